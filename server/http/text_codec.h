// What the HTTP layer needs from a tokenizer, as an interface so that unit tests can run the whole
// server on a scripted fake engine; `text_codec_of` adapts the engine's real tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"  // utf8_stream, utf8_valid

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

// Borrows the tokenizer (it must outlive the codec).
std::unique_ptr<text_codec> text_codec_of(const tokenizer& tok);

}  // namespace tandem
