// Stop strings matched on the generated text, across token boundaries: text that could still turn
// into a stop string is held back, and a matched stop string (and all after it) is never emitted.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem {

class stop_matcher {
  public:
    explicit stop_matcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

    // Appends decoded text (whole UTF-8 characters); returns what may be emitted now. After a match it
    // returns the text before the stop string and `matched()` turns true; later pushes return "".
    std::string push(std::string_view text);
    // The end of generation: releases the held tail (a partial match that never completed).
    std::string flush();
    bool matched() const { return matched_; }

  private:
    std::vector<std::string> stops_;
    std::string held_;
    bool matched_ = false;
};

}  // namespace tandem
