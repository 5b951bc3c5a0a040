// Golden prompts from llama.cpp (shared/golden/<model>/<prompt>.json): prompt token ids
// (add_special=true, parse_special=false), per-token pieces of the prompt and of the greedy
// continuation, and llama_detokenize(prompt + continuation, remove_special=true).
#include <nlohmann/json.hpp>

#include "test_data.h"

namespace tandem::test {
namespace {

std::vector<int32_t> ids_of(const nlohmann::json& j) {
    return j.get<std::vector<int32_t>>();
}

void check_pieces(const tokenizer& tok, const std::vector<int32_t>& ids, const nlohmann::json& pieces_hex,
                  const std::string& what) {
    ASSERT_EQ(pieces_hex.size(), ids.size()) << what;
    for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(to_hex(tok.token_piece(ids[i])), pieces_hex[i].get<std::string>())
            << what << " token " << i << " id " << ids[i] << " text '" << tok.token_text(ids[i]) << "'";
    }
}

void check_prompt(const tokenizer& tok, const nlohmann::json& g, const std::string& what) {
    const std::string prompt = from_hex(g.at("prompt_hex").get<std::string>());
    const auto& t = g.at("tokenize");
    EXPECT_EQ(tok.n_vocab(), g.at("n_vocab").get<int32_t>()) << what;
    EXPECT_EQ(tok.add_bos(), t.at("vocab_add_bos").get<bool>()) << what;
    EXPECT_EQ(tok.add_eos(), t.at("vocab_add_eos").get<bool>()) << what;
    EXPECT_EQ(tok.bos_id(), t.at("bos_id").get<int32_t>()) << what;
    EXPECT_EQ(tok.eos_id(), t.at("eos_id").get<int32_t>()) << what;

    const auto want = ids_of(g.at("tokens"));
    EXPECT_EQ(tok.encode(prompt, true, false), want) << what << " prompt '" << g.at("prompt").get<std::string>() << "'";
    check_pieces(tok, want, g.at("prompt_tokens").at("pieces_hex"), what + " prompt");

    const auto& greedy = g.at("greedy");
    const auto gen = ids_of(greedy.at("tokens"));
    check_pieces(tok, gen, greedy.at("pieces_hex"), what + " greedy");
    const int first_eog = greedy.at("first_eog_index").get<int>();
    for (size_t i = 0; i < gen.size(); ++i) {
        if (static_cast<int>(i) < first_eog || first_eog < 0) {
            EXPECT_FALSE(tok.is_eog(gen[i])) << what << " greedy token " << i;
        } else if (static_cast<int>(i) == first_eog) {
            EXPECT_TRUE(tok.is_eog(gen[i])) << what << " greedy token " << i;
        }
    }
    std::vector<int32_t> all = want;
    all.insert(all.end(), gen.begin(), gen.end());
    // The JSON stores this text with invalid UTF-8 replaced by U+FFFD (maximal subparts, as
    // Python's decode(errors="replace")); utf8_stream applies the same rule.
    utf8_stream guard;
    const std::string text = guard.push(tok.decode(all, true)) + guard.flush();
    EXPECT_EQ(text, greedy.at("detokenized_prompt_and_continuation").get<std::string>()) << what;
}

TEST(tokenizer_golden, every_model_prompt) {
    const std::string index_text = read_file_or_fail(shared_path("golden/index.json"));
    ASSERT_FALSE(index_text.empty());
    const auto index = nlohmann::json::parse(index_text);
    int n_checked = 0;
    for (const auto& run : index.at("runs")) {
        const std::string model = run.at("model_file").get<std::string>();
        const std::string dir = run.at("dir").get<std::string>();
        const auto tok = load_tokenizer(shared_path("models/" + model));
        for (const auto& p : run.at("prompts")) {
            const std::string id = p.get<std::string>();
            const std::string text = read_file_or_fail(shared_path("golden/" + dir + "/" + id + ".json"));
            ASSERT_FALSE(text.empty());
            check_prompt(*tok, nlohmann::json::parse(text), dir + "/" + id);
            ++n_checked;
        }
    }
    // stories260K, llama-spm-tiny x4, qwen3-bpe-tiny, gemma4-tiny: 4 + 4*3 + 3 + 3 prompts.
    EXPECT_EQ(n_checked, 22);
}

}  // namespace
}  // namespace tandem::test
