// draft_policy: a greedy choice of draft lengths under the measured cost model.
#include "engine/spec/draft_policy.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace tandem {

double step_costs::anchor_seconds(double rows) const {
    TANDEM_CHECK(!anchor.empty());
    // Points below a slower one with fewer rows are noise: a step never gets cheaper with more rows.
    double r0 = 0, t0 = 0, prev_r = 0, prev_t = 0;
    for (size_t i = 0; i < anchor.size(); ++i) {
        const double r = anchor[i].first, t = std::max(anchor[i].second, prev_t);
        if (rows <= r) {
            if (i == 0) return t * std::max(rows, 1.0) / std::max(r, 1.0);
            return prev_t + (t - prev_t) * (rows - prev_r) / (r - prev_r);
        }
        r0 = prev_r;
        t0 = prev_t;
        prev_r = r;
        prev_t = t;
    }
    if (anchor.size() == 1) return prev_t * rows / std::max(prev_r, 1.0);
    return prev_t + (prev_t - t0) * (rows - prev_r) / std::max(prev_r - r0, 1.0);  // the last slope
}

void step_costs::observe_anchor(int32_t rows, double seconds) {
    auto it = std::lower_bound(anchor.begin(), anchor.end(), rows,
                               [](const std::pair<int32_t, double>& p, int32_t r) { return p.first < r; });
    // These machines stall now and then (a step takes 20-50% longer, once in a few), and a stall
    // costs plain and speculative steps alike: a step is weighed at most 1.2 times its point, so the
    // points track the usual step (as the start-up sweep's fastest runs do), not the stalls.
    if (it != anchor.end() && it->first == rows)
        it->second += 0.1 * (std::min(seconds, 1.2 * it->second) - it->second);
    else
        anchor.insert(it, {rows, seconds});
}

draft_policy::draft_policy(const draft_policy_config& cfg, step_costs costs)
    : cfg_(cfg), costs_(std::move(costs)), shared_(cfg.prior) {}

void draft_policy::observe_round(spec_state& s) {
    if (s.last_draft == 0) {
        s.seen *= 1.0 - cfg_.idle_fade;
        s.seen_accepted *= 1.0 - cfg_.idle_fade;
    } else {
        const int32_t n_verified = s.last_accepted + (s.last_accepted < s.last_draft ? 1 : 0);
        for (int32_t i = 0; i < n_verified; ++i) {
            s.seen = s.seen * (1.0 - cfg_.fade) + 1.0;
            s.seen_accepted = s.seen_accepted * (1.0 - cfg_.fade) + (i < s.last_accepted ? 1.0 : 0.0);
            shared_ += cfg_.shared_fade * ((i < s.last_accepted ? 1.0 : 0.0) - shared_);
        }
    }
    s.acceptance = (s.seen_accepted + shared_ * cfg_.prior_weight) / (s.seen + cfg_.prior_weight);
    if (cfg_.adaptive && s.last_draft > 0 && s.n_drafts >= cfg_.retire_rounds &&
        s.n_accepted <= cfg_.retire_share * s.n_draft_tokens)
        s.retired = true;
    s.last_draft = 0;
    s.last_accepted = 0;
}

void draft_policy::observe_anchor_step(int64_t rows, double seconds) {
    if (rows > 0 && seconds > 0) costs_.observe_anchor(static_cast<int32_t>(rows), seconds);
}

// The modelled time of a round: one drafter forward per draft level, over the sequences at it.
void draft_policy::observe_draft_round(std::span<const draft_request> reqs, double seconds) {
    double model = 0;
    for (int32_t level = 0;; ++level) {
        int64_t n = 0;
        for (const draft_request& r : reqs) n += r.k > level ? 1 : 0;
        if (n == 0) break;
        model += costs_.draft_b0 + costs_.draft_b1 * static_cast<double>(n);
    }
    if (model <= 0 || seconds <= 0) return;
    draft_scale_ += 0.1 * (std::clamp(seconds / model, 0.1, 10.0) - draft_scale_);
}

// Tokens per second of the decoding sequences, n + sum_s E_s(k_s) tokens for a step of base_rows +
// sum k_s rows plus the drafter's forwards (one per draft level, over the sequences at it). Adding a
// draft token to a sequence gains a^(k+1) expected tokens. The step cost is not convex in its rows
// (the matmul kernels take rows in tiles: a fifth row costs a whole tile, the next three little),
// so the greedy path adds the best next token until every limit is reached, even through a dip, and
// the best point on it wins if it beats plain decoding by min_gain.
void draft_policy::choose(std::span<draft_request> reqs, int64_t base_rows) {
    if (!cfg_.adaptive) {  // every request keeps its limit, if it reaches draft_min
        for (draft_request& r : reqs) r.k = r.k >= cfg_.draft_min ? r.k : 0;
        return;
    }
    const size_t n = reqs.size();
    limit_.resize(n);
    next_gain_.resize(n);
    path_.clear();
    at_level_.assign(static_cast<size_t>(cfg_.draft_max) + 1, 0);
    for (size_t i = 0; i < n; ++i) {
        limit_[i] = reqs[i].k;
        reqs[i].k = 0;
        next_gain_[i] = reqs[i].seq->spec.acceptance;
    }
    double tokens = static_cast<double>(n), rows = static_cast<double>(base_rows), draft_s = 0;
    const double b0 = costs_.draft_b0 * draft_scale_, b1 = costs_.draft_b1 * draft_scale_;
    auto rate = [&](double tok, double r, double d) { return tok / (costs_.anchor_seconds(r) + d); };
    const double plain = rate(tokens, rows, 0);
    double best_rate = plain * (1.0 + cfg_.min_gain);
    size_t best_len = 0;
    for (;;) {
        size_t pick = n;
        double pick_rate = 0, pick_d = 0;
        for (size_t i = 0; i < n; ++i) {
            if (reqs[i].k >= limit_[i]) continue;
            const size_t level = static_cast<size_t>(reqs[i].k);
            const double d = draft_s + b1 + (at_level_[level] == 0 ? b0 : 0.0);
            const double r = rate(tokens + next_gain_[i], rows + 1, d);
            if (r > pick_rate) {
                pick = i;
                pick_rate = r;
                pick_d = d;
            }
        }
        if (pick == n) break;
        tokens += next_gain_[pick];
        rows += 1;
        draft_s = pick_d;
        ++at_level_[static_cast<size_t>(reqs[pick].k)];
        ++reqs[pick].k;
        next_gain_[pick] *= reqs[pick].seq->spec.acceptance;
        path_.push_back(pick);
        if (pick_rate > best_rate) {
            best_rate = pick_rate;
            best_len = path_.size();
        }
    }
    for (draft_request& r : reqs) r.k = 0;
    for (size_t j = 0; j < best_len; ++j) ++reqs[path_[j]].k;
    for (draft_request& r : reqs) {
        r.k = r.k >= cfg_.draft_min ? r.k : 0;
        spec_state& s = r.seq->spec;
        s.idle_rounds = r.k > 0 ? 0 : s.idle_rounds + 1;
        if (s.draft_kv && s.idle_rounds >= cfg_.retire_idle_rounds) s.retired = true;
        ++chosen_.n;
        chosen_.n_none += r.k == 0 ? 1 : 0;
        chosen_.n_tokens += r.k;
    }
}

}  // namespace tandem
