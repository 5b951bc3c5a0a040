// draft_pick: a drafter's greedy choice with its confidence cut-off.
#include <cmath>
#include <limits>

#include "engine/sample/sampler.h"
#include "engine/spec/drafter.h"

namespace tandem {

int32_t draft_pick(std::span<const float> logits, float p_min) {
    const int32_t best = logits_argmax(logits);
    if (best < 0 || p_min <= 0.0f) return best;
    const float best_l = logits[static_cast<size_t>(best)];
    double sum = 0.0;  // p(best) = 1 / sum_i exp(l_i - l_best)
    for (float l : logits) {
        if (l > -std::numeric_limits<float>::infinity()) sum += std::exp(static_cast<double>(l - best_l));
    }
    return 1.0 / sum >= static_cast<double>(p_min) ? best : -1;
}

}  // namespace tandem
