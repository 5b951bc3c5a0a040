// The reasoning budget's rule: inside the block, every generated token counts; at the limit the end
// marker is queued once. A block the model closes itself ends the budget's work.
#include "engine/sched/reasoning_budget.h"

#include <algorithm>

namespace tandem {

void reasoning_budget::begin(bool open) {
    done = limit < 0 || end_tokens.empty();
    inside = open;
    tail_.clear();
    if (!done && inside && limit == 0) force();
}

void reasoning_budget::force() {
    forced.assign(end_tokens.begin(), end_tokens.end());
    done = true;
}

// The text is searched from where the last token's text could still begin a marker, so a marker
// split over tokens, or inside one token's text with more around it, is found.
void reasoning_budget::observe(std::string_view piece) {
    if (done) return;
    tail_ += piece;
    bool opened_now = false;
    if (!inside) {
        const size_t at = start.empty() ? std::string::npos : tail_.find(start);
        if (at == std::string::npos) {
            if (tail_.size() >= start.size()) tail_.erase(0, tail_.size() - std::max<size_t>(start.size(), 1) + 1);
            return;
        }
        tail_.erase(0, at + start.size());  // the end marker may follow in the same text
        inside = true;
        opened_now = true;
        n_inside = 0;
    }
    if (!end.empty() && tail_.find(end) != std::string::npos) {  // the model closed it within budget
        done = true;
        return;
    }
    if (tail_.size() >= end.size()) tail_.erase(0, tail_.size() - std::max<size_t>(end.size(), 1) + 1);
    if (opened_now) {
        if (limit == 0) force();
        return;
    }
    if (++n_inside >= limit) force();
}

std::optional<int32_t> reasoning_budget::take_forced() {
    if (forced.empty()) return std::nullopt;
    const int32_t t = forced.front();
    forced.pop_front();
    return t;
}

}  // namespace tandem
