// A request's reasoning budget (--reasoning-budget): counts the tokens generated inside the
// reasoning block and, at the limit, queues the end marker's tokens, which the engine then writes in
// place of sampling (with no drafts for the sequence meanwhile), so the model goes on with its answer.
// The markers are found in the generated text, so a model that writes one in other tokens than its
// canonical encoding (a vocabulary without the marker as one token) is still followed.
// Pure state, driven by the scheduler token by token; tested without a model.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

struct reasoning_budget {
    int32_t limit = -1;               // reasoning tokens allowed; -1: no limit
    std::string start, end;           // the markers as the generated text shows them
    std::vector<int32_t> end_tokens;  // what gets forced at the limit
    bool inside = false;              // in the reasoning block now
    bool done = false;                // the block closed (by the model or forced): nothing more to do
    int32_t n_inside = 0;             // tokens generated inside so far
    std::deque<int32_t> forced;       // the next tokens, written instead of sampled

    // At submit: `open` says the prompt opened the block (the answer starts inside it).
    void begin(bool open);
    // After each generated token, with its text (the bytes the sequence's text shows for it).
    void observe(std::string_view piece);
    bool forcing() const { return !forced.empty(); }
    std::optional<int32_t> take_forced();

  private:
    void force();
    std::string tail_;  // the text since the last marker found, cut to the last marker's length - 1
};

}  // namespace tandem
