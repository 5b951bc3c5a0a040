// llama.cpp's tokenizer test vectors: every ggml-vocab-*.gguf in shared/models/vocab encodes each of
// the 46 upstream strings to exactly the upstream ids (add_special=false, parse_special=false).
// baichuan and gpt-neox have no upstream vectors; they are compared with llama.cpp's own output.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "test_data.h"

namespace tandem::test {
namespace {

struct vocab_case {
    const char* name;
    bool has_upstream_vectors;
};

const vocab_case k_vocabs[] = {
    {"bert-bge", true}, {"deepseek-coder", true}, {"deepseek-llm", true}, {"falcon", true},
    {"gpt-2", true},    {"llama-spm", true},      {"mpt", true},          {"phi-3", true},
    {"refact", true},   {"starcoder", true},      {"baichuan", false},    {"gpt-neox", false},
};

class vocab_vectors : public ::testing::TestWithParam<vocab_case> {};

std::string case_label(const std::string& text) {
    std::string s = text.size() > 40 ? text.substr(0, 40) + "..." : text;
    return "'" + s + "' (hex " + to_hex(text.substr(0, 24)) + ")";
}

// The golden JSON gives the exact input bytes per case (text_hex), so no parsing doubt remains.
TEST_P(vocab_vectors, golden_json_cases) {
    const vocab_case& vc = GetParam();
    const std::string stem = std::string("ggml-vocab-") + vc.name;
    const std::string json_text = read_file_or_fail(shared_path("golden/tokenizer/" + stem + ".json"));
    ASSERT_FALSE(json_text.empty());
    const auto doc = nlohmann::json::parse(json_text);

    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = load_tokenizer(shared_path("models/vocab/" + stem + ".gguf"));
    const auto t1 = std::chrono::steady_clock::now();
    std::printf("  %-16s n_vocab %6d  load %.1f ms\n", vc.name, tok->n_vocab(),
                std::chrono::duration<double, std::milli>(t1 - t0).count());

    const auto& cases = doc.at("cases");
    ASSERT_EQ(cases.size(), 46u);
    int n_fail = 0;
    for (const auto& c : cases) {
        const std::string text = from_hex(c.at("text_hex").get<std::string>());
        // expected: upstream .out ids; for vocabs without upstream vectors, llama.cpp's own ids.
        const auto& ref = vc.has_upstream_vectors ? c.at("expected") : c.at("llama_cpp");
        ASSERT_FALSE(ref.is_null()) << stem << " case " << c.at("index");
        const auto want = ref.get<std::vector<int32_t>>();
        const auto got = tok->encode(text, false, false);
        if (got != want) {
            ++n_fail;
            ADD_FAILURE() << stem << " case " << c.at("index") << " " << case_label(text) << "\n  want "
                          << ids_to_string(want) << "\n  got  " << ids_to_string(got);
        }
    }
    EXPECT_EQ(n_fail, 0) << stem;
}

// The upstream files themselves, split as llama.cpp's test-tokenizer-0 does: the .inp texts are
// separated by "\n__ggml_vocab_test__\n" (the piece after the last separator is empty), and the
// .out file has one line of space-separated ids per text.
class upstream_files : public ::testing::TestWithParam<vocab_case> {};

TEST_P(upstream_files, inp_out_match) {
    const vocab_case& vc = GetParam();
    const std::string base = shared_path(std::string("models/vocab/ggml-vocab-") + vc.name + ".gguf");
    const std::string inp = read_file_or_fail(base + ".inp");
    const std::string out = read_file_or_fail(base + ".out");
    ASSERT_FALSE(inp.empty());
    ASSERT_FALSE(out.empty());

    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> texts;
    for (size_t pos = 0;;) {
        const size_t hit = inp.find(sep, pos);
        if (hit == std::string::npos) {
            ASSERT_EQ(pos, inp.size()) << "text after the last separator";
            break;
        }
        texts.push_back(inp.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    std::vector<std::vector<int32_t>> ids;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream ls(line);
        std::vector<int32_t> row;
        for (int32_t id; ls >> id;) row.push_back(id);
        ids.push_back(std::move(row));
    }
    ASSERT_EQ(texts.size(), 46u);
    ASSERT_EQ(ids.size(), texts.size());

    const auto tok = load_tokenizer(base);
    for (size_t i = 0; i < texts.size(); ++i) {
        EXPECT_EQ(tok->encode(texts[i], false, false), ids[i])
            << vc.name << " case " << i << " " << case_label(texts[i]);
    }
}

std::string param_name(const ::testing::TestParamInfo<vocab_case>& info) {
    std::string n = info.param.name;
    for (char& c : n) c = (c == '-') ? '_' : c;
    return n;
}

INSTANTIATE_TEST_SUITE_P(vocabs, vocab_vectors, ::testing::ValuesIn(k_vocabs), param_name);
// baichuan and gpt-neox (the last two) have no upstream .inp/.out files.
INSTANTIATE_TEST_SUITE_P(vocabs, upstream_files, ::testing::ValuesIn(std::begin(k_vocabs), std::end(k_vocabs) - 2),
                         param_name);

}  // namespace
}  // namespace tandem::test

namespace tandem::test {
namespace {

// parse_special on real vocabs. Expected ids come from the upstream vectors: gpt-2 "Hello world" is
// [15496, 995] (case 11) and <|endoftext|> is id 50256; llama-spm "Hello" is [15043] (case 23).
TEST(vocab_special, control_tokens_only_with_parse_special) {
    const auto gpt2 = load_tokenizer(shared_path("models/vocab/ggml-vocab-gpt-2.gguf"));
    EXPECT_EQ(gpt2->encode("Hello<|endoftext|> world", false, true), (std::vector<int32_t>{15496, 50256, 995}));
    const auto plain = gpt2->encode("Hello<|endoftext|> world", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
    EXPECT_TRUE(gpt2->is_eog(50256));
    EXPECT_EQ(gpt2->token_piece(50256), "");
    EXPECT_EQ(gpt2->token_piece(50256, true), "<|endoftext|>");

    const auto spm = load_tokenizer(shared_path("models/vocab/ggml-vocab-llama-spm.gguf"));
    // After a special token the next text fragment gets SentencePiece's leading space again.
    EXPECT_EQ(spm->encode("<s>Hello", false, true), (std::vector<int32_t>{1, 15043}));
    EXPECT_EQ(spm->encode("Hello", true, false), (std::vector<int32_t>{1, 15043}));
    EXPECT_EQ(spm->token_text(1), "<s>");
    EXPECT_EQ(spm->decode(std::vector<int32_t>{1, 15043}, true), " Hello");
    EXPECT_EQ(spm->decode(std::vector<int32_t>{15043}, true), "Hello");
}

}  // namespace
}  // namespace tandem::test

namespace tandem::test {
namespace {

// Long inputs: byte-level BPE is lossless, so decode(encode(x)) == x for text without the
// " ," / " 's" patterns that clean_spaces rewrites; a 60k-character word must not go quadratic.
TEST(vocab_long_input, gpt2_round_trip_and_long_word) {
    const auto gpt2 = load_tokenizer(shared_path("models/vocab/ggml-vocab-gpt-2.gguf"));
    std::string text;
    while (text.size() < 200000)
        text += "Once upon a time there was a llama 🦙 named Tom\n\t  нещо 我想在apple工作 3333 ";
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = gpt2->encode(text, false, false);
    EXPECT_EQ(gpt2->decode(ids, false), text);
    std::string word(60000, 'a');
    for (size_t i = 0; i < word.size(); i += 5) word[i] = 'q';
    const auto word_ids = gpt2->encode(word, false, false);
    EXPECT_EQ(gpt2->decode(word_ids, false), word);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("  200 KB text -> %zu tokens, 60k-char word -> %zu tokens, %.1f ms\n", ids.size(), word_ids.size(), ms);
    EXPECT_LT(ms, 20000.0);  // generous: catches only quadratic blow-ups on the slowest machine
}

}  // namespace
}  // namespace tandem::test
