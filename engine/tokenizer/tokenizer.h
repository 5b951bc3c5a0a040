// Text <-> token ids for a GGUF vocabulary, matching llama.cpp's llama_tokenize / token_to_piece /
// llama_detokenize: SentencePiece-style ("llama"), byte-level BPE ("gpt2") and WordPiece ("bert").
// Immutable after from_gguf(), so every const method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

namespace gguf {
class file;
}
namespace tok {
struct vocab;
class regex_splitter;
}  // namespace tok

class tokenizer {
  public:
    enum class kind { spm, bpe, wpm };

    // Throws tandem::error naming the file and key on a missing, malformed or unsupported vocab
    // (e.g. tokenizer.ggml.model = "t5" or an unknown tokenizer.ggml.pre).
    static std::unique_ptr<tokenizer> from_gguf(const gguf::file& f);
    ~tokenizer();
    tokenizer(const tokenizer&) = delete;
    tokenizer& operator=(const tokenizer&) = delete;

    int32_t n_vocab() const;
    kind type() const { return kind_; }

    // add_special: BOS/EOS (and BERT's SEP) as the vocab says (tokenizer.ggml.add_bos_token /
    // add_eos_token, else llama.cpp's per-model default). parse_special: control-token texts such as
    // "<|im_start|>" in `text` become single tokens. User-defined tokens are always matched whole.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

    // The raw bytes of one token, as llama_token_to_piece(lstrip=0, special): byte tokens <0xNN>
    // give that byte, SPM's U+2581 gives a space, byte-level BPE maps back to bytes; control and
    // unknown-type tokens give "" unless special. Out-of-range ids give "".
    std::string token_piece(int32_t id, bool special = false) const;
    // The vocab string as stored (e.g. "<s>", "▁Hello", "Ġworld"); "" for out-of-range ids.
    std::string_view token_text(int32_t id) const;
    // As llama_detokenize(remove_special, unparse_special=false): with remove_special a leading BOS
    // (and trailing EOS, if the vocab adds them) is dropped; SPM drops the first piece's leading
    // space unless a BOS was dropped; BPE vocabs with clean_spaces tidy " ," " 's" and the like.
    std::string decode(std::span<const int32_t> ids, bool remove_special) const;

    int32_t bos_id() const { return bos_id_; }  // -1 when none
    int32_t eos_id() const { return eos_id_; }  // -1 when none
    int32_t eot_id() const { return eot_id_; }  // -1 when none
    int32_t unk_id() const;                     // -1 when none
    bool is_eog(int32_t id) const;              // eos, eot, eom, <|im_end|> and the like
    bool is_control(int32_t id) const;
    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }
    const std::vector<int32_t>& eog_ids() const { return eog_ids_; }  // sorted

  private:
    tokenizer();
    void load_tokens(const gguf::file& f);
    void load_kind(const gguf::file& f);
    void load_special(const gguf::file& f);
    void detect_eog();
    void finish_special(const gguf::file& f);
    // Splits `text` at special-token occurrences; a fragment is either raw text or one token id.
    struct fragment {
        int32_t token;  // -1: raw text [begin, end)
        size_t begin;
        size_t end;
    };
    std::vector<fragment> partition(std::string_view text, bool parse_special) const;
    void encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const;
    std::string piece_lstrip(int32_t id, bool special, bool lstrip) const;

    std::unique_ptr<tok::vocab> vocab_;
    std::unique_ptr<tok::regex_splitter> splitter_;  // BPE only
    kind kind_ = kind::spm;
    int32_t bos_id_ = -1;
    int32_t eos_id_ = -1;
    int32_t eot_id_ = -1;
    int32_t eom_id_ = -1;
    int32_t sep_id_ = -1;
    bool add_bos_ = false;
    bool add_eos_ = false;
    bool add_sep_ = false;
    bool add_space_prefix_ = false;
    bool clean_spaces_ = false;
    bool ignore_merges_ = false;
    bool escape_spaces_ = false;  // gemma4: ' ' -> U+2581 before BPE, back in pieces
    bool byte_level_ = true;      // BPE over GPT-2 byte codepoints (false: raw UTF-8, <0xNN> fallback)
    bool wpm_lowercase_ = false;
    bool wpm_strip_accents_ = false;
    std::vector<int32_t> special_ids_;  // control / user-defined / unknown, longest text first
    std::vector<int32_t> eog_ids_;
};

// Streaming UTF-8 guard for detokenized output: never emits half a character; holds an incomplete
// sequence until it completes; replaces invalid sequences with U+FFFD, so everything it returns is
// valid UTF-8. flush() emits what is held (an incomplete tail becomes U+FFFD).
class utf8_stream {
  public:
    std::string push(std::string_view bytes);
    std::string flush();

  private:
    std::string pending_;  // at most 3 bytes: the start of a sequence not yet complete
};

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool utf8_valid(std::string_view s);

}  // namespace tandem
