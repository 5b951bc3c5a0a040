// draft_policy: a greedy choice of draft lengths under the measured cost model.
#include "engine/spec/draft_policy.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace tandem {

double step_costs::anchor_seconds(double rows) const {
    TANDEM_CHECK(!anchor.empty());
    if (anchor.size() == 1 || rows <= anchor.front().first)
        return anchor.front().second * std::max(rows, 1.0) / std::max(anchor.front().first, 1);
    size_t i = 1;
    while (i + 1 < anchor.size() && anchor[i].first < rows) ++i;
    const auto [r0, t0] = anchor[i - 1];
    const auto [r1, t1] = anchor[i];
    return t0 + (t1 - t0) * (rows - r0) / std::max(r1 - r0, 1);  // beyond the last point: the last slope
}

draft_policy::draft_policy(const draft_policy_config& cfg, step_costs costs) : cfg_(cfg), costs_(std::move(costs)) {}

void draft_policy::observe_round(spec_state& s) const {
    if (s.last_draft == 0) {
        s.acceptance += cfg_.drift * (cfg_.prior - s.acceptance);
        return;
    }
    for (int32_t i = 0; i < s.last_accepted; ++i) s.acceptance += cfg_.learn * (1.0 - s.acceptance);
    if (s.last_accepted < s.last_draft) s.acceptance -= cfg_.learn * s.acceptance;
    s.last_draft = 0;
    s.last_accepted = 0;
}

void draft_policy::observe_anchor_step(int64_t rows, double seconds) {
    const double model = costs_.anchor_seconds(static_cast<double>(rows));
    if (model <= 0 || seconds <= 0) return;
    const double ratio = std::clamp(seconds / model, 0.25, 4.0);
    scale_ += 0.1 * (ratio - scale_);
}

// Tokens per second of the decoding sequences, n + sum_s E_s(k_s) tokens for a step of base_rows +
// sum k_s rows plus the drafter's forwards (one per draft level, over the sequences at that level).
// Adding a draft token to a sequence gains a^(k+1) expected tokens; the greedy loop adds the best
// one while it raises the rate by at least min_gain. E is concave in k, so greedy is optimal for
// the model.
void draft_policy::choose(std::span<draft_request> reqs, int64_t base_rows) {
    if (!cfg_.adaptive) return;  // every request keeps its limit
    const size_t n = reqs.size();
    limit_.resize(n);
    next_gain_.resize(n);
    at_level_.assign(static_cast<size_t>(cfg_.draft_max) + 1, 0);
    for (size_t i = 0; i < n; ++i) {
        limit_[i] = reqs[i].k;
        reqs[i].k = 0;
        next_gain_[i] = reqs[i].seq->spec.acceptance;
    }
    double tokens = static_cast<double>(n), rows = static_cast<double>(base_rows), draft_s = 0;
    auto rate = [&](double tok, double r, double d) { return tok / (costs_.anchor_seconds(r) * scale_ + d); };
    double current = rate(tokens, rows, draft_s);
    for (;;) {
        size_t best = n;
        double best_rate = current * (1.0 + cfg_.min_gain), best_d = 0;
        for (size_t i = 0; i < n; ++i) {
            if (reqs[i].k >= limit_[i]) continue;
            const size_t level = static_cast<size_t>(reqs[i].k);
            const double d = draft_s + costs_.draft_b1 + (at_level_[level] == 0 ? costs_.draft_b0 : 0.0);
            const double r = rate(tokens + next_gain_[i], rows + 1, d);
            if (r > best_rate) {
                best = i;
                best_rate = r;
                best_d = d;
            }
        }
        if (best == n) return;
        tokens += next_gain_[best];
        rows += 1;
        draft_s = best_d;
        current = best_rate;
        ++at_level_[static_cast<size_t>(reqs[best].k)];
        ++reqs[best].k;
        next_gain_[best] *= reqs[best].seq->spec.acceptance;
    }
}

}  // namespace tandem
