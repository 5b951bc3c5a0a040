// draft_pick: a drafter's greedy choice with its confidence cut-off.
#include <cmath>
#include <limits>

#include "engine/spec/drafter.h"

namespace tandem {

int32_t draft_pick(std::span<const float> logits, float p_min) {
    int32_t best = -1;
    float best_l = -std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] > best_l) {  // strict: ties keep the lower id; NaN never wins
            best_l = logits[i];
            best = static_cast<int32_t>(i);
        }
    }
    if (best < 0 || p_min <= 0.0f) return best;
    double sum = 0.0;  // p(best) = 1 / sum_i exp(l_i - l_best)
    for (float l : logits) {
        if (l > -std::numeric_limits<float>::infinity()) sum += std::exp(static_cast<double>(l - best_l));
    }
    return 1.0 / sum >= static_cast<double>(p_min) ? best : -1;
}

}  // namespace tandem
