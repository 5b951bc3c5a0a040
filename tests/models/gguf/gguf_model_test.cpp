// The GGUF reader on the real files in shared/models: facts from shared/models/PROVENANCE.md,
// tensor layout checked with a test-local size table, and truncated copies that must be refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/gguf/gguf.h"

namespace tandem::gguf {
namespace {

const std::string k_models = std::string(TANDEM_SHARED_DIR) + "/models/";

// Opens a shared model, failing the test (never skipping) when it is missing.
std::unique_ptr<file> open_shared(const std::string& rel) {
    const std::string path = k_models + rel;
    if (!std::filesystem::exists(path)) {
        ADD_FAILURE() << "missing shared model " << path << " (see shared/models/PROVENANCE.md)";
        return nullptr;
    }
    return file::open(path);
}

// Block geometry written out from the GGUF spec, independent of kernels/types.cpp.
struct geometry {
    int64_t block_elems;
    size_t block_bytes;
};
const std::map<std::string, geometry> k_geometry = {
    {"f32", {1, 4}},    {"f16", {1, 2}},      {"q8_0", {32, 34}},
    {"q4_0", {32, 18}}, {"q4_K", {256, 144}}, {"q6_K", {256, 210}},
};

std::string type_name(const tensor_info& t) {
    return std::string(dtype_info_of(t.type).name);
}

// Every tensor lies inside the file, is aligned, has the size the spec gives, and none overlap.
void check_layout(const file& f) {
    std::vector<const tensor_info*> sorted;
    for (const tensor_info& t : f.tensors()) {
        SCOPED_TRACE(f.path() + " " + t.name);
        const auto g = k_geometry.find(type_name(t));
        ASSERT_NE(g, k_geometry.end()) << "type not in the test table: " << type_name(t);
        int64_t n = 1;
        for (int d = 0; d < 4; ++d) n *= t.ne[d];
        EXPECT_EQ(t.n_elements, n);
        for (int d = t.n_dims; d < 4; ++d) EXPECT_EQ(t.ne[d], 1);
        EXPECT_EQ(t.n_bytes, static_cast<size_t>(n / g->second.block_elems) * g->second.block_bytes);
        EXPECT_EQ(t.offset % f.alignment(), 0u);
        EXPECT_LE(t.offset + t.n_bytes, f.size());
        EXPECT_EQ(t.data, f.bytes().data() + t.offset);
        sorted.push_back(&t);
    }
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < sorted.size(); ++i)
        EXPECT_LE(sorted[i - 1]->offset + sorted[i - 1]->n_bytes, sorted[i]->offset);
}

std::map<std::string, int> count_types(const file& f) {
    std::map<std::string, int> out;
    for (const tensor_info& t : f.tensors()) ++out[type_name(t)];
    return out;
}

TEST(gguf_model, every_shared_file_opens_and_is_consistent) {
    // Byte sizes from PROVENANCE.md.
    const std::map<std::string, size_t> sizes = {
        {"stories260K.gguf", 1185376},
        {"llama-spm-tiny-F16.gguf", 19473504},
        {"llama-spm-tiny-Q8_0.gguf", 10687616},
        {"llama-spm-tiny-Q4_0.gguf", 8113792},
        {"llama-spm-tiny-Q4_K_M.gguf", 8156032},
        {"qwen3-bpe-tiny-Q8_0.gguf", 16976512},
        {"gemma4-tiny-F32.gguf", 4664064},
        {"gemma4-assistant-tiny-F32.gguf", 673920},
        {"vocab/ggml-vocab-baichuan.gguf", 1340998},
        {"vocab/ggml-vocab-bert-bge.gguf", 627549},
        {"vocab/ggml-vocab-deepseek-coder.gguf", 1156067},
        {"vocab/ggml-vocab-deepseek-llm.gguf", 3970167},
        {"vocab/ggml-vocab-falcon.gguf", 2287728},
        {"vocab/ggml-vocab-gpt-2.gguf", 1766807},
        {"vocab/ggml-vocab-gpt-neox.gguf", 1771431},
        {"vocab/ggml-vocab-llama-spm.gguf", 723869},
        {"vocab/ggml-vocab-mpt.gguf", 1771393},
        {"vocab/ggml-vocab-phi-3.gguf", 726019},
        {"vocab/ggml-vocab-refact.gguf", 1720710},
        {"vocab/ggml-vocab-starcoder.gguf", 1719346},
    };
    for (const auto& [rel, n_bytes] : sizes) {
        SCOPED_TRACE(rel);
        const auto f = open_shared(rel);
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(f->size(), n_bytes);
        EXPECT_EQ(f->version(), 3u);
        EXPECT_EQ(f->alignment(), 32u);
        EXPECT_TRUE(f->get_string("general.architecture").has_value() || rel.starts_with("vocab/"));
        EXPECT_GT(f->array_size("tokenizer.ggml.tokens"), 0u);
        EXPECT_EQ(f->describe_metadata().size(), f->metadata().size());
        if (rel.starts_with("vocab/")) {
            EXPECT_TRUE(f->tensors().empty());
        }
        check_layout(*f);
    }
}

TEST(gguf_model, stories260k_facts) {
    const auto f = open_shared("stories260K.gguf");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->tensors().size(), 48u);
    EXPECT_EQ(count_types(*f), (std::map<std::string, int>{{"f32", 48}}));
    EXPECT_EQ(f->get_u64("llama.block_count"), 5u);
    EXPECT_EQ(f->get_u64("llama.embedding_length"), 64u);
    EXPECT_EQ(f->get_u64("llama.attention.head_count"), 8u);
    EXPECT_EQ(f->get_u64("llama.attention.head_count_kv"), 4u);
    EXPECT_EQ(f->get_u64("llama.feed_forward_length"), 172u);
    EXPECT_EQ(f->get_u64("llama.rope.dimension_count"), 8u);
    EXPECT_NEAR(*f->get_f64("llama.attention.layer_norm_rms_epsilon"), 1e-5, 1e-12);
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "llama");
    EXPECT_FALSE(f->has("tokenizer.ggml.pre"));
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 512u);
    EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores")->size(), 512u);
    EXPECT_EQ(f->get_int_array("tokenizer.ggml.token_type")->size(), 512u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.bos_token_id"), 1u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.eos_token_id"), 2u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.unknown_token_id"), 0u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.seperator_token_id"), 4294967295u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.padding_token_id"), 4294967295u);
    const tensor_info* emb = f->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->ne, (std::array<int64_t, 4>{64, 512, 1, 1}));
    EXPECT_NE(f->find_tensor("output.weight"), nullptr);  // untied
    // The last tensor's data ends exactly at the end of the file.
    size_t end = 0;
    for (const tensor_info& t : f->tensors()) end = std::max(end, static_cast<size_t>(t.offset) + t.n_bytes);
    EXPECT_EQ(end, f->size());
}

TEST(gguf_model, llama_spm_tiny_tensor_types) {
    const std::map<std::string, std::map<std::string, int>> expected = {
        {"F16", {{"f16", 15}, {"f32", 5}}},
        {"Q8_0", {{"q8_0", 15}, {"f32", 5}}},
        {"Q4_0", {{"q6_K", 1}, {"q4_0", 14}, {"f32", 5}}},
        {"Q4_K_M", {{"q6_K", 3}, {"q4_K", 12}, {"f32", 5}}},
    };
    for (const auto& [q, types] : expected) {
        SCOPED_TRACE(q);
        const auto f = open_shared("llama-spm-tiny-" + q + ".gguf");
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(count_types(*f), types);
        EXPECT_EQ(f->get_string("general.name"), "llama-spm-tiny");
        EXPECT_EQ(f->get_u64("llama.context_length"), 2048u);
        EXPECT_EQ(f->get_u64("llama.vocab_size"), 32000u);
        EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "default");
        EXPECT_EQ(f->array_size("tokenizer.ggml.tokens"), 32000u);
        EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), true);
        EXPECT_EQ(f->get_bool("tokenizer.ggml.add_eos_token"), false);
        EXPECT_EQ(f->find_tensor("output.weight"), nullptr);  // tied embeddings
        const tensor_info* emb = f->find_tensor("token_embd.weight");
        ASSERT_NE(emb, nullptr);
        EXPECT_EQ(emb->ne, (std::array<int64_t, 4>{256, 32000, 1, 1}));
        if (q == "Q4_K_M" || q == "Q4_0") {
            EXPECT_EQ(emb->type, dtype::q6_k);
        }
        if (q == "Q4_K_M") {
            EXPECT_EQ(f->find_tensor("blk.1.attn_v.weight")->type, dtype::q6_k);
            EXPECT_EQ(f->find_tensor("blk.1.ffn_down.weight")->type, dtype::q6_k);
            EXPECT_EQ(f->find_tensor("blk.0.attn_q.weight")->type, dtype::q4_k);
        }
    }
}

TEST(gguf_model, qwen3_bpe_tiny_facts) {
    const auto f = open_shared("qwen3-bpe-tiny-Q8_0.gguf");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->get_string("general.architecture"), "qwen3");
    EXPECT_EQ(f->get_string("tokenizer.ggml.model"), "gpt2");
    EXPECT_EQ(f->get_string("tokenizer.ggml.pre"), "gpt-2");
    const auto merges = f->get_string_array("tokenizer.ggml.merges");
    ASSERT_TRUE(merges.has_value());
    EXPECT_EQ(merges->size(), 50000u);
    EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 50257u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.bos_token_id"), 50256u);
    EXPECT_EQ(f->get_u64("tokenizer.ggml.eos_token_id"), 50256u);
    EXPECT_EQ(f->get_bool("tokenizer.ggml.add_bos_token"), false);
    EXPECT_EQ(f->get_u64("qwen3.vocab_size"), 50257u);
    EXPECT_EQ(f->get_u64("qwen3.attention.key_length"), 64u);
    EXPECT_EQ(f->get_u64("qwen3.attention.head_count_kv"), 2u);
    EXPECT_EQ(f->get_f64("qwen3.rope.freq_base"), 1e6);
    EXPECT_EQ(count_types(*f), (std::map<std::string, int>{{"q8_0", 15}, {"f32", 9}}));
    EXPECT_EQ(f->find_tensor("token_embd.weight")->ne, (std::array<int64_t, 4>{256, 50257, 1, 1}));
    EXPECT_NE(f->find_tensor("blk.1.attn_q_norm.weight"), nullptr);
}

TEST(gguf_model, gemma4_tiny_and_assistant_facts) {
    const auto f = open_shared("gemma4-tiny-F32.gguf");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->get_string("general.architecture"), "gemma4");
    EXPECT_EQ(f->get_int_array("gemma4.feed_forward_length"), (std::vector<int64_t>{256, 256, 256, 512, 512, 512}));
    EXPECT_EQ(f->get_bool_array("gemma4.attention.sliding_window_pattern"),
              (std::vector<bool>{true, true, false, true, true, false}));
    EXPECT_THROW(f->get_u64("gemma4.feed_forward_length"), tandem::error);  // an array, not a scalar
    EXPECT_EQ(f->get_u64("gemma4.attention.shared_kv_layers"), 3u);
    EXPECT_EQ(f->get_u64("gemma4.attention.sliding_window"), 8u);
    EXPECT_EQ(f->get_f64("gemma4.final_logit_softcapping"), 30.0);
    EXPECT_EQ(f->get_f64("gemma4.rope.freq_base_swa"), 1e4);
    EXPECT_EQ(f->tensors().size(), 99u);
    EXPECT_EQ(count_types(*f), (std::map<std::string, int>{{"f32", 99}}));
    EXPECT_EQ(f->find_tensor("per_layer_token_embd.weight")->ne, (std::array<int64_t, 4>{48, 512, 1, 1}));
    EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
    for (int l = 0; l < 6; ++l) {
        EXPECT_EQ(f->find_tensor("blk." + std::to_string(l) + ".attn_k.weight") != nullptr, l < 3) << l;
    }
    // rope_freqs: 8 x 1.0 then 24 x 1e30 (PROVENANCE), read straight from the mapping.
    const tensor_info* rf = f->find_tensor("rope_freqs.weight");
    ASSERT_NE(rf, nullptr);
    float v[32];
    std::memcpy(v, rf->data, sizeof(v));
    EXPECT_EQ(v[7], 1.0f);
    EXPECT_EQ(v[8], 1e30f);

    const auto a = open_shared("gemma4-assistant-tiny-F32.gguf");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->get_string("general.architecture"), "gemma4-assistant");
    EXPECT_EQ(a->tensors().size(), 38u);
    EXPECT_EQ(a->get_u64("gemma4-assistant.embedding_length"), 64u);
    EXPECT_EQ(a->get_u64("gemma4-assistant.embedding_length_out"), 128u);
    EXPECT_EQ(a->get_bool_array("gemma4-assistant.attention.sliding_window_pattern"),
              (std::vector<bool>{true, true, false}));
    EXPECT_FALSE(a->has("gemma4-assistant.final_logit_softcapping"));
    EXPECT_EQ(a->find_tensor("nextn.pre_projection.weight")->ne, (std::array<int64_t, 4>{256, 64, 1, 1}));
}

TEST(gguf_model, gpt2_vocab_parses_in_milliseconds) {
    const std::string path = k_models + "vocab/ggml-vocab-gpt-2.gguf";
    ASSERT_TRUE(std::filesystem::exists(path)) << "missing " << path;
    file::open(path);  // warm the page cache
    const auto t0 = std::chrono::steady_clock::now();
    const auto f = file::open(path);
    const auto tokens = f->get_string_array("tokenizer.ggml.tokens");
    const auto merges = f->get_string_array("tokenizer.ggml.merges");
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("gpt-2 vocab: open + tokens + merges in %.2f ms\n", ms);
    EXPECT_EQ(tokens->size(), 50257u);
    EXPECT_EQ(merges->size(), 50000u);
    EXPECT_EQ((*tokens)[50256], "<|endoftext|>");
    EXPECT_LT(ms, 500.0);  // milliseconds in Release; generous for sanitizer builds on slow cores
}

TEST(gguf_model, truncated_copies_of_stories260k_are_refused) {
    const std::string path = k_models + "stories260K.gguf";
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(in) << "missing " << path;
    const std::vector<uint8_t> full((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_EQ(full.size(), 1185376u);
    // Cut points found by byte search, not by the reader: inside the vocab array, inside the first
    // tensor info (its name), between tensor infos, and inside the tensor data.
    const auto find = [&](std::string_view s) {
        const auto it = std::search(full.begin(), full.end(), s.begin(), s.end());
        return static_cast<size_t>(it - full.begin());
    };
    const size_t vocab = find("<0x41>");
    const size_t first_info = find("token_embd.weight");
    const size_t later_info = find("blk.2.ffn_up.weight");
    ASSERT_LT(vocab, first_info);
    ASSERT_LT(later_info, 14176u);  // the data section starts at 14176
    const std::vector<size_t> cuts = {10,
                                      24,
                                      100,
                                      vocab,
                                      vocab + 3,
                                      first_info - 4,
                                      first_info + 5,
                                      later_info + 19,
                                      later_info + 30,
                                      14170,
                                      14176,
                                      14177,
                                      100000,
                                      full.size() / 2,
                                      full.size() - 256,
                                      full.size() - 1};
    const std::string dir = std::string(TANDEM_BINARY_DIR) + "/tests/gguf_corpus";
    std::filesystem::create_directories(dir);
    for (size_t cut : cuts) {
        const std::string cut_path = dir + "/stories260K_cut" + std::to_string(cut) + ".gguf";
        {
            std::ofstream out(cut_path, std::ios::binary | std::ios::trunc);
            out.write(reinterpret_cast<const char*>(full.data()), static_cast<std::streamsize>(cut));
        }
        try {
            file::open(cut_path);
            ADD_FAILURE() << "cut at " << cut << " was accepted";
        } catch (const tandem::error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(cut_path + ": "), std::string::npos) << msg;
            EXPECT_TRUE(msg.find("truncated") != std::string::npos || msg.find("past the end") != std::string::npos)
                << "cut " << cut << ": " << msg;
        }
    }
}

}  // namespace
}  // namespace tandem::gguf
