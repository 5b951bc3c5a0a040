// A request's generated text, built token by token as the engine accepts them: only whole UTF-8
// characters are released, and text that could still become a stop string is held back until it
// cannot; a matched stop string (and all after it) is never released.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/stop_matcher.h"
#include "engine/tokenizer/tokenizer.h"

namespace tandem {

class text_stream {
  public:
    explicit text_stream(std::vector<std::string> stops = {}) : stop_(std::move(stops)) {}

    // Appends a token's raw bytes; returns the text that may be shown now (possibly empty).
    std::string push(std::string_view piece);
    // The end of the generation: releases what is held (an incomplete character becomes U+FFFD, a
    // partial stop string is released as text). Empty after a stop string matched.
    std::string finish();
    bool stopped() const { return stop_.matched(); }

  private:
    utf8_stream utf8_;
    stop_matcher stop_;
};

}  // namespace tandem
