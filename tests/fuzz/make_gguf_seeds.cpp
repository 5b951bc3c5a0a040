// Writes a few small valid GGUF files (through the test writer) as the seed corpus of gguf_fuzz.
// Usage: make_gguf_seeds <dir>
#include <cstdio>
#include <string>

#include "tests/models/gguf/gguf_test_writer.h"

using namespace tandem::gguf::test;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    write_file(dir + "/small.gguf", small_valid_file().build());

    gguf_builder v2 = small_valid_file();
    v2.version = 2;
    v2.alignment = 64;
    v2.add<uint32_t>("general.alignment", t_u32, 64);
    write_file(dir + "/v2_align64.gguf", v2.build());

    gguf_builder vocab;
    vocab.add_str("tokenizer.ggml.model", "gpt2");
    vocab.add_raw("tokenizer.ggml.tokens", t_array, enc_str_array({"a", "b", "ab", "\xc4\xa0the"}));
    vocab.add_raw("tokenizer.ggml.merges", t_array, enc_str_array({"a b", "\xc4\xa0 the"}));
    vocab.add_raw("layers.pattern", t_array, enc_array<uint8_t>(t_bool, {1, 1, 0}));
    write_file(dir + "/vocab_only.gguf", vocab.build());

    gguf_builder quant;
    quant.add_str("general.architecture", "llama");
    quant.add_raw("llama.feed_forward_length", t_array, enc_array<int32_t>(t_i32, {64, 128}));
    quant.tensors.push_back({"q4", {64, 2}, 2, std::vector<uint8_t>(72, 0x5a), std::nullopt, std::nullopt});
    quant.tensors.push_back({"q8", {32, 1, 1, 2}, 8, std::vector<uint8_t>(68, 0x33), std::nullopt, std::nullopt});
    quant.tensors.push_back({"f16", {3, 5}, 1, std::vector<uint8_t>(30, 0x01), std::nullopt, std::nullopt});
    write_file(dir + "/quant.gguf", quant.build());
    return 0;
}
