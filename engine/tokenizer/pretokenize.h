// Byte-level BPE pre-tokenization: the regex chain that tokenizer.ggml.pre names, run with PCRE2
// (UTF + UCP). Each regex splits the pieces left by the previous one; text between matches stays a
// piece of its own, as llama.cpp's unicode_regex_split does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::tok {

// What a pre-tokenizer name implies besides its regexes (llama.cpp's llama_vocab::impl::load).
struct pre_config {
    std::vector<std::string> regexes;
    bool clean_spaces = true;    // decode() tidies " ," " ." " 's" ...
    bool ignore_merges = false;  // a whole word that is a token is taken as is
    bool add_bos = false;        // default when tokenizer.ggml.add_bos_token is absent
};

// Throws tandem::error naming `pre` if it is unknown. An empty name means "default".
pre_config pre_config_for(std::string_view pre);

class regex_splitter {
  public:
    explicit regex_splitter(const std::vector<std::string>& regexes);  // throws tandem::error
    ~regex_splitter();
    regex_splitter(const regex_splitter&) = delete;
    regex_splitter& operator=(const regex_splitter&) = delete;

    // `text` must be valid UTF-8 (see sanitize_utf8). Returns [begin, end) byte spans covering it.
    std::vector<std::pair<size_t, size_t>> split(std::string_view text) const;

  private:
    struct compiled;
    std::vector<std::unique_ptr<compiled>> regexes_;
};

// Re-encodes `text` so PCRE2 accepts it: each invalid byte becomes U+FFFD (llama.cpp does the same
// before its regexes), surrogate codepoints too.
std::string sanitize_utf8(std::string_view text);

}  // namespace tandem::tok
