// How many tokens each sequence drafts this round. Speculation pays only when the tokens it
// expects to gain outweigh what the extra rows cost, and on a CPU a (1+k)-row step is far from
// free, so k comes from a cost model measured on this machine and each sequence's own acceptance:
// k = 0 (a plain step) when no draft is expected to pay, e.g. at many streams or low acceptance.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/spec/drafter.h"

namespace tandem {

// Seconds of one anchor step by its row count (measured points, never decreasing with rows, linear
// between and beyond them), and of one drafter forward: b0 + b1 * rows.
struct step_costs {
    std::vector<std::pair<int32_t, double>> anchor;  // (rows, seconds), rows ascending, at least one
    double draft_b0 = 0, draft_b1 = 0;

    double anchor_seconds(double rows) const;
    // Folds a live step's time into the point of its row count (a new point if there is none); a
    // stall counts as at most 1.2 times the point.
    void observe_anchor(int32_t rows, double seconds);
};

struct draft_policy_config {
    int32_t draft_max = 3;
    int32_t draft_min = 0;                   // a sequence drafts 0 or at least this many
    bool adaptive = true;                    // false: every sequence drafts draft_max (within its limits)
    double prior = spec_state{}.acceptance;  // assumed before any draft was verified
    // A sequence's estimate is (accepted + shared * prior_weight) / (verified + prior_weight) over its
    // verified draft tokens, whose weight fades by `fade` per newer token (a memory of about 1 / fade
    // tokens) and by `idle_fade` per plain step, so a sequence whose drafts failed tries again later.
    // `shared` is the acceptance of every sequence's recent draft tokens (fading by shared_fade per
    // token, from `prior`): how well this drafter does on this traffic, a new sequence's start and
    // where an idle one drifts back to. A few rejected tokens are enough to stop drafting a
    // sequence; a steady rate is judged over tens of tokens.
    double prior_weight = 3.0;
    double shared_fade = 0.02;
    double fade = 0.04;
    double idle_fade = 0.01;
    // The drafts chosen must promise this relative gain in tokens per second over plain decoding: the
    // costs are measured on noisy machines, and a smaller predicted gain is within their error.
    double min_gain = 0.12;
    // A sequence that accepted at most this share of its draft tokens over at least retire_rounds
    // verified rounds is retired (spec_state::retired): even the rare rounds that test whether its
    // drafts became useful, and a draft model's K/V kept in step for them, cost a few percent.
    int32_t retire_rounds = 4;
    double retire_share = 0.05;
    // A draft model keeps its K/V in step with every sequence so that it can draft at any round, at
    // a cost per token of its size relative to the anchor's (3.5% of a step with llama-tiny drafting
    // for llama-110m). A sequence it drafted nothing for in this many rounds in a row (many streams,
    // low acceptance) is retired too, as that upkeep is then all it costs.
    int32_t retire_idle_rounds = 32;
};

class draft_policy {
  public:
    draft_policy(const draft_policy_config& cfg, step_costs costs);

    // Updates the sequence's acceptance estimate from its last verified round (spec.last_draft,
    // spec.last_accepted: the accepted tokens, then the first rejected one, are what it verified); a
    // plain step fades the evidence, so the estimate returns toward the prior. Retires a sequence
    // whose drafts are nearly never accepted (adaptive mode only).
    void observe_round(spec_state& s);
    // Live step times replace the start-up measurement: an anchor step of `rows` rows, and a round of
    // drafting (the drafter's forwards for the lengths the last choose() picked).
    void observe_anchor_step(int64_t rows, double seconds);
    void observe_draft_round(std::span<const draft_request> reqs, double seconds);

    // reqs[i].k holds the most sequence i may draft (its context and max_tokens left); on return
    // the chosen k (0: none). base_rows: the rows the next step has without any draft. Retires a
    // sequence with a draft model's K/V to keep up that it drafted nothing for in a long while.
    void choose(std::span<draft_request> reqs, int64_t base_rows);

    double draft_scale() const { return draft_scale_; }
    double shared_acceptance() const { return shared_; }
    // What choose() picked so far: sequence-rounds considered, of those drafting none, draft tokens.
    struct choices {
        int64_t n = 0, n_none = 0, n_tokens = 0;
    };
    const choices& chosen() const { return chosen_; }
    const step_costs& costs() const { return costs_; }

  private:
    draft_policy_config cfg_;
    step_costs costs_;
    double draft_scale_ = 1.0;  // measured / modelled drafting time (EMA)
    double shared_;             // acceptance of recent draft tokens over all sequences
    choices chosen_;
    std::vector<int32_t> limit_;
    std::vector<double> next_gain_;  // expected accepted tokens of each sequence's next draft
    std::vector<int32_t> at_level_;  // sequences drafting at least i + 1 tokens
    std::vector<size_t> path_;       // the greedy path: the sequence each added draft token went to
};

}  // namespace tandem
