// A request's reasoning budget (--reasoning-budget): counts the tokens generated inside the
// reasoning block and, at the limit, queues the end marker's tokens, which the engine then writes in
// place of sampling (with no drafts for the sequence meanwhile), so the model goes on with its answer.
// Pure state, driven by the scheduler token by token; tested without a model.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace tandem {

struct reasoning_budget {
    int32_t limit = -1;               // reasoning tokens allowed; -1: no limit
    std::vector<int32_t> start, end;  // the markers' tokens (end is what gets forced)
    bool inside = false;              // in the reasoning block now
    bool done = false;                // the block closed (by the model or forced): nothing more to do
    int32_t n_inside = 0;             // tokens generated inside so far
    std::deque<int32_t> forced;       // the next tokens, written instead of sampled

    // At submit: `open` says the prompt opened the block (the answer starts inside it).
    void begin(bool open);
    // After each generated token (`generated`: the generated tokens so far, the new one last).
    void observe(std::span<const int32_t> generated);
    bool forcing() const { return !forced.empty(); }
    std::optional<int32_t> take_forced();

  private:
    void force();
};

}  // namespace tandem
