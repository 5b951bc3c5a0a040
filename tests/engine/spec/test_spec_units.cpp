// The pieces of speculative decoding that need no model: n-gram lookup, the drafter's greedy pick
// with its confidence cut-off, and the draft-length policy's choices under given step costs.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/spec/draft_policy.h"
#include "engine/spec/drafter.h"

namespace tandem {
namespace {

std::vector<int32_t> lookup(std::vector<int32_t> tokens, int32_t k, int32_t n_min = 2, int32_t n_max = 4) {
    std::vector<int32_t> out;
    ngram_lookup(tokens, k, n_min, n_max, out);
    return out;
}

TEST(ngram, continues_the_most_recent_earlier_occurrence_of_the_tail) {
    // tail (7, 8) occurs at 1 and at 5; the most recent is followed by 9 10 11.
    EXPECT_EQ(lookup({6, 7, 8, 1, 2, 7, 8, 9, 10, 11, 7, 8}, 3), (std::vector<int32_t>{9, 10, 11}));
    EXPECT_EQ(lookup({6, 7, 8, 1, 2, 7, 8, 9, 10, 11, 7, 8}, 1), (std::vector<int32_t>{9}));
}

TEST(ngram, prefers_the_longest_match) {
    // (3, 7, 8) matches at 0 -> 4; the 2-gram (7, 8) alone would match later at 5 -> 5.
    EXPECT_EQ(lookup({3, 7, 8, 4, 0, 7, 8, 5, 3, 7, 8}, 1), (std::vector<int32_t>{4}));
}

TEST(ngram, stops_at_the_end_of_the_history_and_finds_nothing_without_a_match) {
    EXPECT_EQ(lookup({1, 2, 3, 1, 2}, 5), (std::vector<int32_t>{3, 1, 2}));
    EXPECT_TRUE(lookup({1, 2, 3, 4, 5}, 3).empty());
    EXPECT_TRUE(lookup({1, 2, 3, 4, 2}, 3).empty()) << "a 1-gram is below n_min";
    EXPECT_EQ(lookup({1, 2, 3, 4, 2}, 3, 1), (std::vector<int32_t>{3, 4, 2}));
    EXPECT_TRUE(lookup({}, 3).empty());
    EXPECT_TRUE(lookup({5}, 3).empty());
}

TEST(draft_pick, argmax_with_ties_to_the_lowest_id_and_a_probability_floor) {
    const std::vector<float> l{0.0f, 2.0f, 2.0f, -1.0f};
    EXPECT_EQ(draft_pick(l, 0.0f), 1);
    const double p1 = std::exp(2.0) / (1 + 2 * std::exp(2.0) + std::exp(-1.0));  // ~0.46
    EXPECT_EQ(draft_pick(l, static_cast<float>(p1 - 0.01)), 1);
    EXPECT_EQ(draft_pick(l, static_cast<float>(p1 + 0.01)), -1);
}

// Step costs in milliseconds: a one-row step 10 ms, each further row `per_row` ms.
step_costs linear(double per_row, double draft_ms = 0) {
    step_costs c;
    for (int32_t r : {1, 2, 4, 8, 16, 32}) c.anchor.push_back({r, (10.0 + per_row * (r - 1)) * 1e-3});
    c.draft_b0 = draft_ms * 1e-3;
    return c;
}

struct policy_rig {
    std::vector<sequence> seqs;
    std::vector<draft_request> reqs;
    policy_rig(size_t n, double acceptance, int32_t limit) : seqs(n) {
        for (sequence& s : seqs) {
            s.spec.acceptance = acceptance;
            reqs.push_back({&s, limit});
        }
    }
    std::vector<int32_t> choose(draft_policy& p) {
        p.choose(reqs, static_cast<int64_t>(seqs.size()));
        std::vector<int32_t> k;
        for (const draft_request& r : reqs) k.push_back(r.k);
        return k;
    }
};

draft_policy_config cfg(int32_t k_max) {
    draft_policy_config c;
    c.draft_max = k_max;
    return c;
}

TEST(draft_policy, drafts_up_to_the_limit_when_rows_are_nearly_free) {
    draft_policy p(cfg(5), linear(0.2));
    policy_rig r(1, 0.95, 5);
    EXPECT_EQ(r.choose(p), (std::vector<int32_t>{5}));
    policy_rig lim(2, 0.8, 2);  // a sequence's own limit (context, max_tokens) holds
    EXPECT_EQ(lim.choose(p), (std::vector<int32_t>{2, 2}));
}

TEST(draft_policy, drafts_nothing_when_a_row_costs_as_much_as_a_step) {
    draft_policy p(cfg(4), linear(10.0));
    policy_rig r(1, 0.9, 4);
    EXPECT_EQ(r.choose(p), (std::vector<int32_t>{0}));
}

TEST(draft_policy, drafts_nothing_at_low_acceptance) {
    draft_policy p(cfg(4), linear(3.0));
    policy_rig low(1, 0.2, 4);
    EXPECT_EQ(low.choose(p), (std::vector<int32_t>{0}));
    policy_rig high(1, 0.9, 4);
    EXPECT_GT(high.choose(p)[0], 0);
}

TEST(draft_policy, drafts_less_with_more_streams_when_rows_get_dearer) {
    // Memory-bound up to 4 rows, compute-bound after: the shape of these CPUs.
    step_costs c;
    c.anchor = {{1, 10e-3}, {4, 12e-3}, {8, 22e-3}, {16, 42e-3}};
    draft_policy p(cfg(3), c);
    policy_rig one(1, 0.75, 3);
    EXPECT_EQ(one.choose(p), (std::vector<int32_t>{3}));
    policy_rig eight(8, 0.75, 3);
    int32_t total = 0;
    for (int32_t k : eight.choose(p)) total += k;
    EXPECT_EQ(total, 0);
}

TEST(draft_policy, a_drafter_cost_is_weighed_too) {
    draft_policy cheap(cfg(3), linear(1.0, 0.1));
    draft_policy dear(cfg(3), linear(1.0, 20.0));
    policy_rig a(1, 0.8, 3), b(1, 0.8, 3);
    EXPECT_GT(a.choose(cheap)[0], 0);
    EXPECT_EQ(b.choose(dear)[0], 0);
}

TEST(draft_policy, fixed_mode_keeps_every_limit) {
    draft_policy_config c = cfg(4);
    c.adaptive = false;
    draft_policy p(c, linear(100.0));
    policy_rig r(3, 0.0, 4);
    r.reqs[1].k = 2;
    EXPECT_EQ(r.choose(p), (std::vector<int32_t>{4, 2, 4}));
}

TEST(draft_policy, acceptance_follows_verified_rounds_and_drifts_back_when_idle) {
    draft_policy p(cfg(3), linear(1.0));
    spec_state s;
    s.acceptance = 0.7;
    s.last_draft = 3;
    s.last_accepted = 0;
    p.observe_round(s);
    EXPECT_LT(s.acceptance, 0.7);
    EXPECT_EQ(s.last_draft, 0) << "a round is counted once";
    const double after_reject = s.acceptance;
    p.observe_round(s);  // a plain step: drift back toward the prior
    EXPECT_GT(s.acceptance, after_reject);
    s.last_draft = 3;
    s.last_accepted = 3;
    const double before = s.acceptance;
    p.observe_round(s);
    EXPECT_GT(s.acceptance, before);
    EXPECT_LE(s.acceptance, 1.0);
}

TEST(draft_policy, a_few_rejections_stop_drafting_and_a_steady_rate_is_judged_over_many) {
    draft_policy p(cfg(3), linear(1.0));
    spec_state bad;
    for (int i = 0; i < 4; ++i) {  // four rounds whose first draft was rejected
        bad.last_draft = 3;
        p.observe_round(bad);
    }
    EXPECT_LT(bad.acceptance, 0.35);
    spec_state half;  // one draft per round, accepted every other round
    double lo = 1, hi = 0;
    for (int i = 0; i < 400; ++i) {
        half.last_draft = 1;
        half.last_accepted = i % 2;
        p.observe_round(half);
        if (i >= 100) lo = std::min(lo, half.acceptance), hi = std::max(hi, half.acceptance);
    }
    EXPECT_GT(lo, 0.45);
    EXPECT_LT(hi, 0.6);
}

// A verified round as the scheduler records it, then observed by the policy.
void verified_round(draft_policy& p, spec_state& s, int32_t n_draft, int32_t n_accepted) {
    s.last_draft = n_draft;
    s.last_accepted = n_accepted;
    s.n_drafts += 1;
    s.n_draft_tokens += n_draft;
    s.n_accepted += n_accepted;
    p.observe_round(s);
}

TEST(draft_policy, a_sequence_whose_drafts_are_never_accepted_is_retired) {
    draft_policy p(cfg(3), linear(1.0));
    spec_state useless, poor;
    for (int i = 0; i < 3; ++i) verified_round(p, useless, 3, 0);
    EXPECT_FALSE(useless.retired) << "three rounds are too few to judge";
    verified_round(p, useless, 2, 0);
    EXPECT_TRUE(useless.retired);
    for (int i = 0; i < 40; ++i) verified_round(p, poor, 3, i % 3 == 0 ? 1 : 0);  // 1 in 9 accepted
    EXPECT_FALSE(poor.retired) << "a drafter that helps now and then keeps its chance";
    draft_policy_config fixed = cfg(3);
    fixed.adaptive = false;
    draft_policy pf(fixed, linear(1.0));
    spec_state kept;
    for (int i = 0; i < 10; ++i) verified_round(pf, kept, 3, 0);
    EXPECT_FALSE(kept.retired) << "a fixed draft length is the user's choice";
}

TEST(draft_policy, a_new_sequence_starts_from_what_the_drafter_earned_on_the_others) {
    draft_policy p(cfg(3), linear(1.0));
    EXPECT_DOUBLE_EQ(p.shared_acceptance(), 0.7);
    spec_state a;
    for (int i = 0; i < 30; ++i) verified_round(p, a, 3, 0);  // every first draft rejected
    spec_state fresh;
    p.observe_round(fresh);
    EXPECT_LT(fresh.acceptance, 0.45) << "the drafter failed on every other sequence";
    for (int i = 0; i < 200; ++i) p.observe_round(fresh);
    EXPECT_LT(fresh.acceptance, 0.45) << "an idle sequence drifts back to the shared rate, not to the start";
    spec_state b;
    for (int i = 0; i < 60; ++i) verified_round(p, b, 2, 2);  // everything accepted
    spec_state later;
    p.observe_round(later);
    EXPECT_GT(later.acceptance, 0.8);
}

TEST(draft_policy, a_draft_model_idle_for_many_rounds_is_retired) {
    draft_policy p(cfg(3), linear(10.0));  // a row costs a whole step: no draft ever pays
    policy_rig idle(2, 0.7, 3);
    idle.seqs[0].spec.draft_kv = true;  // a draft model keeps its K/V in step: upkeep
    for (int round = 1; round <= 32; ++round) {
        EXPECT_EQ(idle.choose(p), (std::vector<int32_t>{0, 0}));
        EXPECT_EQ(idle.seqs[0].spec.retired, round == 32) << "round " << round;
    }
    EXPECT_FALSE(idle.seqs[1].spec.retired) << "an MTP or n-gram drafter costs nothing while idle";
    draft_policy cheap(cfg(3), linear(0.2));
    policy_rig busy(1, 0.95, 3);
    busy.seqs[0].spec.draft_kv = true;
    for (int round = 0; round < 40; ++round) busy.choose(cheap);
    EXPECT_FALSE(busy.seqs[0].spec.retired);
}

TEST(draft_policy, live_steps_replace_the_start_up_measurement) {
    draft_policy p(cfg(3), linear(0.1));
    policy_rig r(1, 0.6, 3);
    EXPECT_GT(r.choose(p)[0], 0) << "measured at start: a second row is nearly free";
    for (int i = 0; i < 150; ++i) {  // live: every row costs as much as the first
        for (int32_t rows = 1; rows <= 4; ++rows) p.observe_anchor_step(rows, rows * 10e-3);
    }
    EXPECT_NEAR(p.costs().anchor_seconds(2), 20e-3, 1e-3);
    EXPECT_NEAR(p.costs().anchor_seconds(4), 40e-3, 1e-3);
    policy_rig again(1, 0.6, 3);
    EXPECT_EQ(again.choose(p)[0], 0);
    p.observe_anchor_step(5, 50e-3);  // a row count with no point gets one
    EXPECT_NEAR(p.costs().anchor_seconds(5), 50e-3, 1e-9);
}

// The matmul kernels take rows in tiles of four: a fifth row costs nearly a tile, the next three
// little. Adding one draft at a time must not stop at the dip.
TEST(draft_policy, passes_the_cost_of_a_new_row_tile) {
    step_costs c;
    c.anchor = {{1, 30e-3}, {2, 33e-3}, {4, 59e-3}, {5, 77e-3}, {8, 83e-3}, {12, 110e-3}, {16, 140e-3}};
    draft_policy p(cfg(3), c);
    policy_rig four(4, 0.8, 3);
    // 12 rows for 9.76 tokens (0.089 per ms) beat 8 rows for 7.2 (0.087) and 4 rows for 4 (0.068);
    // a fifth row alone (4.8 tokens in 77 ms, 0.062) is worse than none.
    EXPECT_EQ(four.choose(p), (std::vector<int32_t>{2, 2, 2, 2}));
    policy_rig poor(4, 0.3, 3);
    EXPECT_EQ(poor.choose(p), (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(draft_policy, a_stalled_step_moves_its_point_little) {
    step_costs c;
    c.anchor = {{1, 10e-3}};
    c.observe_anchor(1, 40e-3);  // a stall: weighed as 12 ms
    EXPECT_NEAR(c.anchor_seconds(1), 10.2e-3, 1e-9);
    c.observe_anchor(1, 5e-3);  // a faster step counts in full
    EXPECT_NEAR(c.anchor_seconds(1), 10.2e-3 + 0.1 * (5e-3 - 10.2e-3), 1e-9);
}

TEST(draft_policy, a_step_never_gets_cheaper_with_more_rows) {
    step_costs c;
    c.anchor = {{1, 10e-3}, {2, 8e-3}, {4, 16e-3}};  // the 2-row point is noise
    EXPECT_NEAR(c.anchor_seconds(2), 10e-3, 1e-12);
    EXPECT_NEAR(c.anchor_seconds(3), 13e-3, 1e-12);
    EXPECT_NEAR(c.anchor_seconds(8), 28e-3, 1e-12);  // beyond the last point: the last slope
}

TEST(draft_policy, live_drafting_time_rescales_the_drafter_cost) {
    draft_policy p(cfg(3), linear(0.1, 1.0));
    policy_rig r(1, 0.8, 3);
    EXPECT_GT(r.choose(p)[0], 0);
    for (int i = 0; i < 60; ++i) {
        policy_rig q(1, 0.8, 3);
        if (q.choose(p)[0] == 0) break;
        p.observe_draft_round(q.reqs, 0.1);  // 100 ms per round: far dearer than the 1 ms measured
    }
    policy_rig after(1, 0.8, 3);
    EXPECT_EQ(after.choose(p)[0], 0);
    EXPECT_GT(p.draft_scale(), 5.0);
}

}  // namespace
}  // namespace tandem
