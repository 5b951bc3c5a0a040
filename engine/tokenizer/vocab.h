// The vocabulary as loaded from GGUF, shared by the SPM, BPE and WordPiece algorithms (private header).
// Built once at load; read-only afterwards, so encode() may run on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tandem::tok {

// Token attributes as bits (llama.cpp's llama_token_attr), derived from tokenizer.ggml.token_type.
enum attr : uint32_t {
    attr_undefined = 0,
    attr_unknown = 1u << 0,
    attr_unused = 1u << 1,
    attr_normal = 1u << 2,
    attr_control = 1u << 3,
    attr_user_defined = 1u << 4,
    attr_byte = 1u << 5,
    attr_lstrip = 1u << 7,
    attr_rstrip = 1u << 8,
};

struct string_hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using string_map = std::unordered_map<std::string, int32_t, string_hash, std::equal_to<>>;

struct vocab {
    std::vector<std::string> text;  // (n_vocab) as stored
    std::vector<float> score;       // (n_vocab) SPM merge priority; 0 when absent
    std::vector<uint32_t> attrs;    // (n_vocab) attr bits
    string_map token_to_id;
    string_map bpe_ranks;  // "left right" -> merge rank (BPE only)
    int32_t unk_id = -1;
    size_t max_token_len = 0;  // bytes

    int32_t n_vocab() const { return static_cast<int32_t>(text.size()); }
    int32_t find(std::string_view s) const {
        const auto it = token_to_id.find(s);
        return it == token_to_id.end() ? -1 : it->second;
    }
};

// The algorithms append to `out`. `text` is one raw fragment (special tokens already split out).
void spm_encode(const vocab& v, std::string_view text, std::vector<int32_t>& out);
// `word` is one pre-tokenized word; byte_level: it is GPT-2 byte-encoded, else raw UTF-8 whose
// unmergeable bytes fall back to <0xNN> tokens.
void bpe_encode_word(const vocab& v, std::string_view word, bool ignore_merges, bool byte_level,
                     std::vector<int32_t>& out);
// BERT WordPiece; `lowercase` and `strip_accents` are the BertNormalizer options.
void wpm_encode(const vocab& v, std::string_view text, bool lowercase, bool strip_accents, std::vector<int32_t>& out);

}  // namespace tandem::tok
