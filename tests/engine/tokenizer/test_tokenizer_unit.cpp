// Tokenizer logic on tiny hand-built vocabularies (GGUF images made in memory): SPM score merges
// and byte fallback, BPE rank merges, pieces, decoding, special tokens, and load errors.
// Expected ids are worked out by hand from the toy vocab, not produced by the code under test.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/tokenizer.h"
#include "gguf_builder.h"
#include "models/gguf/gguf.h"

namespace tandem {
namespace {

using test::gguf_builder;
using ids = std::vector<int32_t>;

std::unique_ptr<tokenizer> load(const gguf_builder& b, const std::string& name = "toy.gguf") {
    const std::vector<uint8_t> bytes = b.bytes();
    const auto f = gguf::file::from_memory(bytes, name);
    return tokenizer::from_gguf(*f);
}

// SPM toy vocab: 0 <unk>, 1 <s>, 2 </s>, 3 <0x21> ('!'), 4 ▁, 5 a, 6 b, 7 ▁a, 8 ab, 9 ▁ab (or an
// unrelated "zz"), 10 <|user|>
gguf_builder spm_vocab(float score_a_b, float score_sp_a, bool with_sp_ab = true) {
    gguf_builder b;
    b.str("tokenizer.ggml.model", "llama")
        .strs("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "<0x21>", "\xE2\x96\x81", "a", "b",
                                        "\xE2\x96\x81"
                                        "a",
                                        "ab",
                                        with_sp_ab ? "\xE2\x96\x81"
                                                     "ab"
                                                   : "zz",
                                        "<|user|>"})
        .f32s("tokenizer.ggml.scores", {0, 0, 0, 0, -1, -2, -2, score_sp_a, score_a_b, -0.5f, 0})
        .i32s("tokenizer.ggml.token_type", {2, 3, 3, 6, 1, 1, 1, 1, 1, 1, 3})
        .u32("tokenizer.ggml.bos_token_id", 1)
        .u32("tokenizer.ggml.eos_token_id", 2)
        .u32("tokenizer.ggml.padding_token_id", 4294967295u);
    return b;
}

TEST(tokenizer_spm, highest_score_merges_first) {
    // "ab" -> "▁ab": merge ab (-1) beats ▁a (-3), then ▁ + ab -> ▁ab.
    EXPECT_EQ(load(spm_vocab(-1.0f, -3.0f))->encode("ab", false, false), (ids{9}));
    // Without ▁ab the order decides: ab first gives ▁ + ab, ▁a first gives ▁a + b.
    EXPECT_EQ(load(spm_vocab(-1.0f, -3.0f, false))->encode("ab", false, false), (ids{4, 8}));
    EXPECT_EQ(load(spm_vocab(-3.0f, -1.0f, false))->encode("ab", false, false), (ids{7, 6}));
    // Equal scores: the leftmost pair merges first.
    EXPECT_EQ(load(spm_vocab(-2.0f, -2.0f, false))->encode("ab", false, false), (ids{7, 6}));
}

TEST(tokenizer_spm, space_prefix_bos_and_byte_fallback) {
    const auto t = load(spm_vocab(-1.0f, -3.0f));
    EXPECT_TRUE(t->add_bos());
    EXPECT_FALSE(t->add_eos());
    EXPECT_EQ(t->encode("ab", true, false), (ids{1, 9}));
    EXPECT_EQ(t->encode("a!", false, false), (ids{7, 3}));     // '!' has only the byte token <0x21>
    EXPECT_EQ(t->encode("b?", false, false), (ids{4, 6, 0}));  // no token and no byte token: <unk>
    EXPECT_EQ(t->encode("", true, false), (ids{1}));
    EXPECT_EQ(t->encode("", false, false), (ids{}));
}

TEST(tokenizer_spm, special_tokens_need_parse_special) {
    const auto t = load(spm_vocab(-1.0f, -3.0f));
    // Control text is ordinary text unless parse_special; after a special token the next raw
    // fragment gets the leading space again, as in llama.cpp.
    EXPECT_EQ(t->encode("<|user|>ab", false, true), (ids{10, 9}));
    const ids plain = t->encode("<|user|>ab", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 10), 0);
}

TEST(tokenizer_spm, pieces_and_decode) {
    const auto t = load(spm_vocab(-1.0f, -3.0f));
    EXPECT_EQ(t->token_piece(9), " ab");
    EXPECT_EQ(t->token_piece(3), "!");
    EXPECT_EQ(t->token_piece(1), "");
    EXPECT_EQ(t->token_piece(1, true), "<s>");
    EXPECT_EQ(t->token_text(9),
              "\xE2\x96\x81"
              "ab");
    EXPECT_EQ(t->token_piece(99), "");
    // remove_special drops the BOS and then keeps the first piece's space; without BOS the
    // first leading space goes.
    EXPECT_EQ(t->decode(ids{1, 9, 7}, true), " ab a");
    EXPECT_EQ(t->decode(ids{9, 7}, true), "ab a");
    EXPECT_EQ(t->decode(ids{1, 9}, false), " ab");  // the BOS piece "" used up the strip
    EXPECT_EQ(t->bos_id(), 1);
    EXPECT_EQ(t->eos_id(), 2);
    EXPECT_TRUE(t->is_eog(2));
    EXPECT_FALSE(t->is_eog(1));
}

TEST(tokenizer_spm, out_of_range_ids_keep_the_default) {
    gguf_builder b = spm_vocab(-1.0f, -3.0f);
    b.u32("tokenizer.ggml.unknown_token_id", 4294967295u);
    const auto t = load(b);
    EXPECT_EQ(t->unk_id(), 0);  // llama.cpp's SPM default
}

// Byte-level BPE toy vocab (pre "gpt-2"): Ġ is the byte 0x20 after GPT-2's byte mapping.
gguf_builder bpe_vocab(std::vector<std::string> merges) {
    gguf_builder b;
    b.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", "gpt-2")
        .strs("tokenizer.ggml.tokens", {"a", "b", "c", "\xC4\xA0", "ab", "bc", "abc",
                                        "\xC4\xA0"
                                        "a",
                                        "<|endoftext|>"})
        .i32s("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 1, 1, 1, 3})
        .strs("tokenizer.ggml.merges", merges)
        .u32("tokenizer.ggml.bos_token_id", 8)
        .u32("tokenizer.ggml.eos_token_id", 8);
    return b;
}

TEST(tokenizer_bpe, lowest_rank_merges_first) {
    EXPECT_EQ(load(bpe_vocab({"a b", "ab c"}))->encode("abc", false, false), (ids{6}));
    EXPECT_EQ(load(bpe_vocab({"b c", "a b"}))->encode("abc", false, false), (ids{0, 5}));
    // " abc" is one pre-token "Ġabc": Ġ a merges first, then nothing else applies to Ġa + b + c.
    EXPECT_EQ(load(bpe_vocab({"\xC4\xA0 a", "a b", "b c"}))->encode(" abc", false, false), (ids{7, 5}));
    EXPECT_EQ(load(bpe_vocab({"a b", "ab c"}))->encode("ab ab", false, false), (ids{4, 3, 4}));
}

TEST(tokenizer_bpe, defaults_pieces_and_eog) {
    const auto t = load(bpe_vocab({"a b"}));
    EXPECT_FALSE(t->add_bos());
    EXPECT_EQ(t->encode("ab", true, false), (ids{4}));
    EXPECT_EQ(t->token_piece(7), " a");
    EXPECT_EQ(t->token_piece(8), "");
    EXPECT_EQ(t->token_piece(8, true), "<|endoftext|>");
    EXPECT_TRUE(t->is_eog(8));
    EXPECT_EQ(t->encode("a<|endoftext|>", false, true), (ids{0, 8}));
    EXPECT_EQ(t->decode(ids{4, 7}, true), "ab a");
}

// Gemma 4 style BPE: U+2581 for spaces, raw UTF-8 merges, <0xNN> byte fallback, newline runs whole.
TEST(tokenizer_gemma4, spm_style_bpe) {
    gguf_builder b;
    b.str("tokenizer.ggml.model", "gemma4")
        .strs("tokenizer.ggml.tokens", {"<pad>", "<eos>", "<bos>", "<0x21>", "\xE2\x96\x81", "a", "b",
                                        "\xE2\x96\x81"
                                        "a",
                                        "ab", "\n", "\n\n", "<|tool_response>", "</s>"})
        .i32s("tokenizer.ggml.token_type", {3, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 3, 1})
        .strs("tokenizer.ggml.merges", {"\xE2\x96\x81 a", "a b"})
        .u32("tokenizer.ggml.bos_token_id", 2)
        .u32("tokenizer.ggml.eos_token_id", 1)
        .boolean("tokenizer.ggml.add_bos_token", false);
    const auto t = load(b);
    EXPECT_TRUE(t->add_bos());  // forced on, as llama.cpp does for Gemma 4
    // " ab!\n\nab" -> "▁ab!" "\n\n" "ab": ▁a + b + <0x21>, the newline pair whole, ab.
    EXPECT_EQ(t->encode(" ab!\n\nab", true, false), (ids{2, 7, 6, 3, 10, 8}));
    EXPECT_EQ(t->token_piece(7), " a");
    EXPECT_EQ(t->token_piece(3), "!");
    EXPECT_EQ(t->decode(ids{2, 7, 6, 3, 10, 8}, true), " ab!\n\nab");
    EXPECT_TRUE(t->is_eog(1));
    EXPECT_FALSE(t->is_eog(12));  // "</s>" is not an end token when "<|tool_response>" exists
}

TEST(tokenizer_errors, unsupported_model_is_named) {
    gguf_builder b;
    b.str("tokenizer.ggml.model", "t5").strs("tokenizer.ggml.tokens", {"a", "b"});
    try {
        load(b, "t5-vocab.gguf");
        FAIL() << "expected tandem::error";
    } catch (const error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("'t5'"), std::string::npos) << msg;
        EXPECT_NE(msg.find("t5-vocab.gguf"), std::string::npos) << msg;
        EXPECT_NE(msg.find("tokenizer.ggml.model"), std::string::npos) << msg;
    }
}

TEST(tokenizer_errors, unknown_pre_tokenizer_and_missing_keys) {
    gguf_builder b;
    b.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", "no-such-pre")
        .strs("tokenizer.ggml.tokens", {"a"})
        .strs("tokenizer.ggml.merges", {});
    EXPECT_THROW(load(b), error);
    try {
        load(b);
    } catch (const error& e) {
        EXPECT_NE(std::string(e.what()).find("no-such-pre"), std::string::npos) << e.what();
    }
    gguf_builder no_tokens;
    no_tokens.str("tokenizer.ggml.model", "llama");
    EXPECT_THROW(load(no_tokens), error);
    gguf_builder no_model;
    no_model.strs("tokenizer.ggml.tokens", {"a"});
    EXPECT_THROW(load(no_model), error);
    gguf_builder no_merges;
    no_merges.str("tokenizer.ggml.model", "gpt2")
        .str("tokenizer.ggml.pre", "gpt-2")
        .strs("tokenizer.ggml.tokens", {"a"});
    EXPECT_THROW(load(no_merges), error);
}

TEST(pretokenize, gpt2_regex_splits) {
    const tok::pre_config cfg = tok::pre_config_for("gpt-2");
    const tok::regex_splitter split(cfg.regexes);
    const std::string text = "Hello world's  test 123!!";
    std::vector<std::string> words;
    for (const auto& [b, e] : split.split(text)) words.push_back(text.substr(b, e - b));
    EXPECT_EQ(words, (std::vector<std::string>{"Hello", " world", "'s", " ", " test", " 123", "!!"}));
}

TEST(pretokenize, llama3_groups_digits_by_three_and_keeps_newlines) {
    const tok::regex_splitter split(tok::pre_config_for("llama-bpe").regexes);
    const std::string text = "x 12345\n\n  y";
    std::vector<std::string> words;
    for (const auto& [b, e] : split.split(text)) words.push_back(text.substr(b, e - b));
    EXPECT_EQ(words, (std::vector<std::string>{"x", " ", "123", "45", "\n\n", " ", " y"}));
}

TEST(pretokenize, sanitize_replaces_invalid_bytes) {
    EXPECT_EQ(tok::sanitize_utf8("a\xFF"
                                 "b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(tok::sanitize_utf8("\xC3\xA9"), "\xC3\xA9");
    EXPECT_EQ(tok::sanitize_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace tandem
