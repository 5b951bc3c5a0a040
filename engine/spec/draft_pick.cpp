// draft_pick and draft_next: a model drafter's choice of its next draft, with its confidence cut-off.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/check.h"
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

// Structured output: the drafter's logits masked as the anchor's will be, at the state the drafts
// so far lead to; false when the grammar is complete there (nothing more to draft).
bool mask_draft(sequence& s, std::span<float> logits) {
    spec_state& sp = s.spec;
    if (sp.draft.empty()) sp.draft_gm.emplace(*s.gm);
    if (sp.draft_gm->done()) return false;
    gram::mask_logits(logits, sp.draft_gm->mask());
    return true;
}

bool draft_next(sequence& s, std::span<float> logits, float p_min) {
    spec_state& sp = s.spec;
    if (s.gm && !mask_draft(s, logits)) return false;
    auto took = [&](int32_t d) { return !s.gm || sp.draft_gm->accept(d); };
    if (!sp.draft_smp) {
        const int32_t d = draft_pick(logits, p_min);
        if (d >= 0 && !took(d)) return false;  // every logit was masked
        if (d >= 0) sp.draft.push_back(d);
        return d >= 0;
    }
    TANDEM_CHECK(sp.draft.size() < sp.draft_q.size());
    // The penalties' window: the latest tokens, then the drafts so far.
    const size_t n_hist = std::min(sp.draft_smp->history_used(), s.tokens.size() + sp.draft.size());
    const size_t from_drafts = std::min(n_hist, sp.draft.size());
    sp.draft_history.assign(s.tokens.end() - static_cast<ptrdiff_t>(n_hist - from_drafts), s.tokens.end());
    sp.draft_history.insert(sp.draft_history.end(), sp.draft.end() - static_cast<ptrdiff_t>(from_drafts),
                            sp.draft.end());
    const int32_t d = sp.draft_smp->sample(logits, sp.draft_history);
    const std::span<const token_prob> q = sp.draft_smp->last_distribution();
    float q_d = 0.0f;
    for (const token_prob& tp : q) {
        if (tp.id == d) q_d = tp.p;
    }
    if (q_d < p_min || !took(d)) return false;
    sp.draft_q[sp.draft.size()].assign(q.begin(), q.end());
    sp.draft.push_back(d);
    return true;
}

}  // namespace tandem
