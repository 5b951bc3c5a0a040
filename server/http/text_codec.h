// What the HTTP layer needs from a tokenizer, as an interface so that unit tests can run the whole
// server on a scripted fake engine; `text_codec_of` adapts the engine's real tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class engine;
class tokenizer;

class text_codec {
public:
    virtual ~text_codec() = default;
    virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
    virtual std::string token_piece(int32_t id) const = 0;  // raw bytes, may be partial UTF-8
    virtual std::string token_text(int32_t id) const = 0;   // the vocabulary string (for bos_token, eos_token)
    virtual int32_t bos_id() const = 0;                     // -1: none
    virtual int32_t eos_id() const = 0;                     // -1: none
    virtual bool is_eog(int32_t id) const = 0;
    virtual int32_t n_vocab() const = 0;
};

// Borrows the tokenizer (it must outlive the codec). Defined only when tandem_tokenizer is built.
std::unique_ptr<text_codec> text_codec_of(const tokenizer& tok);

// Holds back an incomplete UTF-8 sequence at the end of a byte stream, so no output splits a
// character; invalid bytes become U+FFFD. One per generated choice.
class utf8_holder {
public:
    std::string push(std::string_view bytes);
    std::string flush();  // the held tail, as U+FFFD if it never completed

private:
    std::string pending_;
};

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool utf8_valid(std::string_view s);

}  // namespace tandem
