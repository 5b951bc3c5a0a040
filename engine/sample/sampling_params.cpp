// check_sampling: one rule per setting, NaN refused everywhere (every comparison below fails on it).
#include "engine/sample/sampling_params.h"

#include <cmath>
#include <limits>

namespace tandem {
namespace {

std::string num(double x) {
    std::string s = std::to_string(x);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// The bounds are compared as floats: 0.01f is in [0.01, 10].
std::optional<param_error> in_range(const char* param, float x, double lo, double hi) {
    if (x >= static_cast<float>(lo) && x <= static_cast<float>(hi)) return std::nullopt;
    return param_error{param,
                       std::string("'") + param + "' must be in [" + num(lo) + ", " + num(hi) + "], got " + num(x)};
}

}  // namespace

std::optional<param_error> check_sampling(const sampling_params& p, int32_t n_vocab) {
    if (auto e = in_range("temperature", p.temperature, 0, 2)) return e;
    if (p.top_k < 0) return param_error{"top_k", "'top_k' must be at least 0, got " + std::to_string(p.top_k)};
    if (auto e = in_range("top_p", p.top_p, 0, 1)) return e;
    if (auto e = in_range("min_p", p.min_p, 0, 1)) return e;
    if (auto e = in_range("presence_penalty", p.presence_penalty, -2, 2)) return e;
    if (auto e = in_range("frequency_penalty", p.frequency_penalty, -2, 2)) return e;
    if (auto e = in_range("repetition_penalty", p.repetition_penalty, 0.01, 10)) return e;
    if (p.penalty_last_n < -1)
        return param_error{"penalty_last_n",
                           "'penalty_last_n' must be at least -1, got " + std::to_string(p.penalty_last_n)};
    for (const auto& [id, bias] : p.logit_bias) {
        if (id < 0 || id >= n_vocab)
            return param_error{"logit_bias", "'logit_bias' token id " + std::to_string(id) +
                                                 " is outside the vocabulary [0, " + std::to_string(n_vocab) + ")"};
        if (!(bias >= -100 && bias <= 100) && bias != -std::numeric_limits<float>::infinity())
            return param_error{"logit_bias", "'logit_bias' values must be in [-100, 100], got " + num(bias) +
                                                 " for token " + std::to_string(id)};
    }
    return std::nullopt;
}

}  // namespace tandem
