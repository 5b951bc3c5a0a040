// The reasoning budget's rule: inside the block, every generated token counts; at the limit the end
// marker is queued once. A block the model closes itself ends the budget's work.
#include "engine/sched/reasoning_budget.h"

#include <algorithm>

namespace tandem {
namespace {

bool ends_with(std::span<const int32_t> tokens, const std::vector<int32_t>& marker) {
    return !marker.empty() && tokens.size() >= marker.size() &&
           std::equal(marker.begin(), marker.end(), tokens.end() - static_cast<ptrdiff_t>(marker.size()));
}

}  // namespace

void reasoning_budget::begin(bool open) {
    done = limit < 0 || end.empty();
    inside = open;
    if (!done && inside && limit == 0) force();
}

void reasoning_budget::force() {
    forced.assign(end.begin(), end.end());
    done = true;
}

void reasoning_budget::observe(std::span<const int32_t> generated) {
    if (done) return;
    if (!inside) {
        if (!ends_with(generated, start)) return;
        inside = true;
        n_inside = 0;
        if (limit == 0) force();
        return;
    }
    if (ends_with(generated, end)) {  // the model closed it within budget
        done = true;
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
