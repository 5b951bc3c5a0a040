// sampler against hand-computed distributions: greedy ties, each filter, their order, penalties,
// logit bias, seeding, logprobs, and a chi-square check that draws follow the softmax.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "engine/sample/sampler.h"

namespace tandem {
namespace {

sampling_params params(float temperature, int32_t top_k = 0, float top_p = 1.0f, float min_p = 0.0f) {
    sampling_params p;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.seed = 7;
    return p;
}

// The last distribution as id -> p.
std::map<int32_t, double> dist_of(const sampler& s) {
    std::map<int32_t, double> d;
    for (const token_prob& tp : s.last_distribution()) d[tp.id] = tp.p;
    return d;
}

// Hand-computed expectation: weights w_i for ids, normalized.
std::map<int32_t, double> normalized(std::map<int32_t, double> w) {
    double sum = 0;
    for (auto& [id, x] : w) sum += x;
    for (auto& [id, x] : w) x /= sum;
    return w;
}

void expect_dist(const sampler& s, const std::map<int32_t, double>& want) {
    const std::map<int32_t, double> got = dist_of(s);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [id, p] : want) {
        ASSERT_TRUE(got.count(id)) << "token " << id << " missing";
        EXPECT_NEAR(got.at(id), p, 1e-6) << "token " << id;
    }
}

int32_t sample_once(sampler& s, std::vector<float> logits, std::vector<int32_t> history = {}) {
    return s.sample(logits, history);
}

TEST(sampler, greedy_picks_argmax_with_ties_to_lowest_id) {
    sampler s(params(0.0f), 5);
    EXPECT_EQ(sample_once(s, {1.0f, 3.0f, 3.0f, 2.0f, 3.0f}), 1);
    EXPECT_EQ(sample_once(s, {-5.0f, -2.0f, -2.0f, -9.0f, -3.0f}), 1);
    expect_dist(s, {{1, 1.0}});
}

TEST(sampler, top_k_1_equals_greedy) {
    std::mt19937 rng(99);
    std::uniform_int_distribution<int> level(0, 7);  // coarse levels: plenty of ties
    sampler greedy(params(0.0f), 300), k1(params(1.0f, 1), 300);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<float> l(300);
        for (float& x : l) x = static_cast<float>(level(rng)) * 0.5f;
        int32_t want = 0;  // independent argmax, lowest id on ties
        for (int32_t i = 1; i < 300; ++i) {
            if (l[static_cast<size_t>(i)] > l[static_cast<size_t>(want)]) want = i;
        }
        EXPECT_EQ(sample_once(greedy, l), want);
        EXPECT_EQ(sample_once(k1, l), want);
    }
}

TEST(sampler, top_k_keeps_the_k_largest) {
    sampler s(params(1.0f, 2), 4);
    sample_once(s, {1.0f, 2.0f, 3.0f, 0.0f});
    expect_dist(s, normalized({{2, std::exp(3.0)}, {1, std::exp(2.0)}}));
}

TEST(sampler, top_k_with_ties_matches_a_full_sort) {
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> level(0, 9);
    const int32_t n = 400;
    for (int32_t k : {1, 5, 37, 399}) {
        sampler s(params(1.0f, k), n);
        std::vector<float> l(static_cast<size_t>(n));
        for (float& x : l) x = static_cast<float>(level(rng)) * 0.25f;
        l[17] = -std::numeric_limits<float>::infinity();  // never a candidate
        sample_once(s, l);
        std::vector<int32_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
        std::map<int32_t, double> want;
        for (int32_t i = 0; i < std::min(k, n - 1); ++i) want[order[i]] = std::exp(l[order[i]]);
        expect_dist(s, normalized(want));
    }
}

std::vector<float> log_probs(std::vector<double> p) {
    std::vector<float> l;
    for (double x : p) l.push_back(static_cast<float>(std::log(x)));
    return l;
}

TEST(sampler, top_p_keeps_the_smallest_head_reaching_p) {
    const std::vector<float> l = log_probs({0.15, 0.5, 0.05, 0.3});
    sampler a(params(1.0f, 0, 0.75f), 4);
    sample_once(a, l);
    expect_dist(a, {{1, 0.5 / 0.8}, {3, 0.3 / 0.8}});
    sampler b(params(1.0f, 0, 0.85f), 4);
    sample_once(b, l);
    expect_dist(b, {{1, 0.5 / 0.95}, {3, 0.3 / 0.95}, {0, 0.15 / 0.95}});
    sampler c(params(1.0f, 0, 0.0f), 4);  // p = 0 keeps the single most likely token
    EXPECT_EQ(sample_once(c, l), 1);
}

TEST(sampler, min_p_keeps_tokens_above_fraction_of_max) {
    sampler s(params(1.0f, 0, 1.0f, 0.2f), 4);  // threshold 0.2 * 0.5 = 0.1
    sample_once(s, log_probs({0.5, 0.3, 0.15, 0.05}));
    expect_dist(s, {{0, 0.5 / 0.95}, {1, 0.3 / 0.95}, {2, 0.15 / 0.95}});
}

TEST(sampler, temperature_scales_logits) {
    sampler s(params(0.5f), 3);
    sample_once(s, {0.0f, 1.0f, 2.0f});
    expect_dist(s, normalized({{0, 1.0}, {1, std::exp(2.0)}, {2, std::exp(4.0)}}));
}

TEST(sampler, top_p_sees_the_top_k_renormalized_distribution) {
    // After top_k = 3 the head is 0.4/0.9, 0.3/0.9 = 0.78 >= 0.75: two tokens. Over the full
    // distribution top_p would need three (0.4 + 0.3 = 0.7 < 0.75).
    sampler s(params(1.0f, 3, 0.75f), 4);
    sample_once(s, log_probs({0.4, 0.3, 0.2, 0.1}));
    expect_dist(s, {{0, 0.4 / 0.7}, {1, 0.3 / 0.7}});
}

TEST(sampler, temperature_applies_after_truncation) {
    // top_p is decided on the temperature-1 distribution (two tokens); temperature 0.1 then sharpens.
    sampler s(params(0.1f, 0, 0.75f), 4);
    sample_once(s, log_probs({0.5, 0.3, 0.15, 0.05}));
    expect_dist(s, normalized({{0, std::pow(0.5, 10)}, {1, std::pow(0.3, 10)}}));
}

TEST(sampler, top_p_over_a_large_vocabulary_matches_a_full_sort) {
    const int32_t n = 5000;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<float> l(static_cast<size_t>(n));
    for (float& x : l) x = normal(rng);
    for (float top_p : {0.3f, 0.9f, 0.999f}) {
        sampler s(params(1.0f, 0, top_p), n);
        sample_once(s, l);
        std::vector<int32_t> order(static_cast<size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
        double total = 0;
        for (float x : l) total += std::exp(static_cast<double>(x));
        std::map<int32_t, double> want;
        double cum = 0;
        for (int32_t id : order) {
            want[id] = std::exp(static_cast<double>(l[static_cast<size_t>(id)]));
            cum += want[id] / total;
            if (cum >= top_p) break;
        }
        EXPECT_GT(want.size(), 10u);
        expect_dist(s, normalized(want));
    }
}

TEST(sampler, penalties_match_hand_computed_logits) {
    sampling_params p = params(0.0f);
    p.repetition_penalty = 2.0f;
    p.frequency_penalty = 0.1f;
    p.presence_penalty = 0.5f;
    p.penalty_last_n = 4;
    sampler s(p, 5);
    std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    const std::vector<int32_t> history = {1, 1, 0, 3, 3, 3};  // window: 0, 3, 3, 3
    s.sample(l, history);
    EXPECT_FLOAT_EQ(l[0], 2.0f / 2 - 0.1f - 0.5f);
    EXPECT_FLOAT_EQ(l[1], -1.0f);  // outside the window
    EXPECT_FLOAT_EQ(l[2], 0.5f);
    EXPECT_FLOAT_EQ(l[3], 3.0f / 2 - 3 * 0.1f - 0.5f);
    EXPECT_FLOAT_EQ(l[4], 0.0f);

    p.penalty_last_n = -1;  // the whole history; negative logits are multiplied
    sampler all(p, 5);
    l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    all.sample(l, history);
    EXPECT_FLOAT_EQ(l[1], -1.0f * 2 - 2 * 0.1f - 0.5f);
    EXPECT_FLOAT_EQ(l[3], 3.0f / 2 - 3 * 0.1f - 0.5f);

    p.penalty_last_n = 0;  // off
    sampler off(p, 5);
    l = {2.0f, -1.0f, 0.5f, 3.0f, 0.0f};
    EXPECT_EQ(off.sample(l, history), 3);
    EXPECT_FLOAT_EQ(l[3], 3.0f);
}

TEST(sampler, logit_bias_applies_before_everything) {
    sampling_params p = params(0.0f);
    p.logit_bias = {{0, 10.0f}, {3, -std::numeric_limits<float>::infinity()}};
    sampler s(p, 4);
    std::vector<float> l = {0.0f, 1.0f, 2.0f, 50.0f};
    EXPECT_EQ(s.sample(l, {}), 0);
    EXPECT_FLOAT_EQ(l[0], 10.0f);
    sampling_params q = params(1.0f);
    q.logit_bias = {{1, -std::numeric_limits<float>::infinity()}};
    sampler banned(q, 2);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(sample_once(banned, {0.0f, 5.0f}), 0);
}

std::vector<int32_t> draw_many(uint64_t seed, int n) {
    sampling_params p = params(1.0f);
    p.seed = seed;
    sampler s(p, 8);
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) out.push_back(sample_once(s, {0.1f, 0.2f, 0.3f, 0.0f, 0.5f, 0.4f, 0.2f, 0.1f}));
    return out;
}

TEST(sampler, same_seed_same_tokens_different_seed_different_tokens) {
    EXPECT_EQ(draw_many(1, 200), draw_many(1, 200));
    EXPECT_NE(draw_many(1, 200), draw_many(2, 200));
    EXPECT_NE(draw_many(2, 200), draw_many(3, 200));
}

TEST(sampler, a_request_does_not_depend_on_other_requests) {
    const std::vector<int32_t> alone = draw_many(11, 100);
    sampling_params pa = params(1.0f), pb = params(0.8f, 3);
    pa.seed = 11;
    pb.seed = 11;
    sampler a(pa, 8), b(pb, 8);
    std::vector<int32_t> interleaved;
    for (int i = 0; i < 100; ++i) {
        interleaved.push_back(sample_once(a, {0.1f, 0.2f, 0.3f, 0.0f, 0.5f, 0.4f, 0.2f, 0.1f}));
        sample_once(b, {1.0f, 0.0f, 2.0f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f});
    }
    EXPECT_EQ(interleaved, alone);
}

double chi_square(const std::vector<int>& counts, const std::vector<double>& p, int n) {
    double chi = 0;
    for (size_t i = 0; i < p.size(); ++i) {
        const double e = p[i] * n;
        chi += (counts[i] - e) * (counts[i] - e) / e;
    }
    return chi;
}

std::vector<double> softmax(const std::vector<float>& l, double t) {
    std::vector<double> p;
    double sum = 0;
    for (float x : l) sum += std::exp(x / t);
    for (float x : l) p.push_back(std::exp(x / t) / sum);
    return p;
}

TEST(sampler, draws_follow_the_softmax) {
    const std::vector<float> l = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f, 2.0f};
    const int n = 60000;
    for (float t : {1.0f, 0.7f}) {
        sampler s(params(t), 6);
        std::vector<int> counts(6, 0);
        for (int i = 0; i < n; ++i) ++counts[static_cast<size_t>(sample_once(s, l))];
        // 5 degrees of freedom: P(chi2 > 20.5) = 0.001.
        EXPECT_LT(chi_square(counts, softmax(l, t), n), 20.5) << "temperature " << t;
        // The check has teeth: a slightly wrong temperature is rejected.
        EXPECT_GT(chi_square(counts, softmax(l, t * 1.15), n), 100.0) << "temperature " << t;
    }
}

// Ratio acceptance: a drafter draws x from its own distribution q, the anchor keeps x with
// probability min(1, p(x) / q(x)) and otherwise draws from max(p - q, 0). Whatever q is, the
// tokens must follow p, and the share kept must be sum_i min(p_i, q_i).
TEST(sampler, ratio_acceptance_keeps_the_anchor_distribution) {
    const std::vector<float> lp = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f, 2.0f};
    const std::vector<float> lq = {1.0f, 0.2f, -0.5f, 1.5f, 0.8f, 0.0f};
    const int n = 60000;
    for (int32_t top_k : {0, 3}) {
        for (float t : {1.0f, 0.7f}) {
            sampling_params pa = params(t, top_k), pd = params(t, top_k);
            pd.seed = 99;
            sampler anchor(pa, 6), drafter(pd, 6);
            std::vector<int> counts(6, 0);
            int kept = 0;
            std::vector<double> p(6, 0.0), q(6, 0.0);
            for (int i = 0; i < n; ++i) {
                const int32_t x = sample_once(drafter, lq);
                const std::vector<token_prob> qd(drafter.last_distribution().begin(),
                                                 drafter.last_distribution().end());
                std::vector<float> logits = lp;
                const int32_t y = anchor.sample_draft(logits, {}, x, qd);
                ++counts[static_cast<size_t>(y)];
                kept += y == x;
                if (i == 0) {
                    for (const token_prob& tp : qd) q[static_cast<size_t>(tp.id)] = tp.p;
                    for (const token_prob& tp : anchor.last_distribution()) p[static_cast<size_t>(tp.id)] = tp.p;
                }
            }
            const std::string what = "top_k " + std::to_string(top_k) + ", temperature " + std::to_string(t);
            // Only p's support, as chi-square cells (top_k 3 leaves 2 degrees of freedom: P(chi2 > 13.8) = 0.001).
            std::vector<int> cells;
            std::vector<double> want, wrong;
            for (size_t i = 0; i < 6; ++i) {
                if (p[i] > 0) {
                    cells.push_back(counts[i]);
                    want.push_back(p[i]);
                    wrong.push_back(q[i] > 0 ? q[i] : 1e-3);
                } else {
                    EXPECT_EQ(counts[i], 0) << what << ": token " << i << " is outside the anchor's distribution";
                }
            }
            const double critical = top_k == 0 ? 20.5 : 13.8;
            EXPECT_LT(chi_square(cells, want, n), critical) << what;
            EXPECT_GT(chi_square(cells, wrong, n), 100.0) << what << ": the drafter's distribution must differ";
            double overlap = 0;
            for (size_t i = 0; i < 6; ++i) overlap += std::min(p[i], q[i]);
            // Binomial standard deviation at n = 60000 is at most 0.002.
            EXPECT_NEAR(static_cast<double>(kept) / n, overlap, 0.01) << what;
        }
    }
}

// A draft the drafter gave all its mass to is kept with probability p(draft): drawing and comparing.
TEST(sampler, ratio_acceptance_of_a_certain_draft_is_the_anchor_probability) {
    const std::vector<float> lp = {0.0f, 0.5f, 1.0f, 1.5f, -1.0f, 2.0f};
    sampler anchor(params(1.0f), 6);
    const std::vector<token_prob> certain = {{2, 1.0f}};
    const int n = 40000;
    int kept = 0;
    for (int i = 0; i < n; ++i) {
        std::vector<float> logits = lp;
        kept += anchor.sample_draft(logits, {}, 2, certain) == 2;
    }
    EXPECT_NEAR(static_cast<double>(kept) / n, softmax(lp, 1.0)[2], 0.01);
    // Greedy requests take the argmax whatever was drafted.
    sampler greedy(params(0.0f), 6);
    std::vector<float> logits = lp;
    EXPECT_EQ(greedy.sample_draft(logits, {}, 2, certain), 5);
}

TEST(sampler, logprobs_are_the_log_softmax_after_bias_and_penalties) {
    sampling_params p = params(0.0f);
    p.repetition_penalty = 2.0f;
    sampler s(p, 5);
    std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
    const std::vector<int32_t> history = {1};
    const int32_t tok = s.sample(l, history);  // token 1: 3 -> 1.5, so token 3 wins
    EXPECT_EQ(tok, 3);
    const std::vector<double> after = {1.0, 1.5, 2.0, 3.0, -1.0};
    double lse = 0;
    for (double x : after) lse += std::exp(x);
    lse = std::log(lse);
    token_logprob top[3];
    EXPECT_NEAR(s.logprobs(l, tok, top), 3.0 - lse, 1e-5);
    EXPECT_EQ(top[0].id, 3);
    EXPECT_EQ(top[1].id, 2);
    EXPECT_EQ(top[2].id, 1);
    EXPECT_NEAR(top[1].logprob, 2.0 - lse, 1e-5);
    EXPECT_NEAR(top[2].logprob, 1.5 - lse, 1e-5);

    sampler t(params(0.0f), 3);  // ties: lower id first; a vocabulary smaller than the request
    std::vector<float> m = {0.0f, 0.0f, 0.0f};
    token_logprob top5[5];
    EXPECT_NEAR(t.logprobs(m, 2, top5), -std::log(3.0), 1e-6);
    EXPECT_EQ(top5[0].id, 0);
    EXPECT_EQ(top5[1].id, 1);
    EXPECT_EQ(top5[2].id, 2);
    EXPECT_EQ(top5[3].id, -1);
}

TEST(sampler, all_logits_banned_falls_back_to_token_0) {
    const float ninf = -std::numeric_limits<float>::infinity();
    sampler s(params(1.0f), 3);
    EXPECT_EQ(sample_once(s, {ninf, ninf, ninf}), 0);
}

TEST(sampler, rejects_bad_parameters) {
    sampling_params p = params(1.0f);
    p.logit_bias = {{10, 1.0f}};
    EXPECT_THROW(sampler(p, 10), error);
    EXPECT_THROW(sampler(params(1.0f, -1), 10), error);
    EXPECT_THROW(sampler(params(1.0f, 0, 1.5f), 10), error);
    EXPECT_THROW(sampler(params(1.0f, 0, 1.0f, -0.1f), 10), error);
    EXPECT_THROW(sampler(params(1.0f), 0), error);
    p = params(1.0f);
    p.repetition_penalty = 0.0f;
    EXPECT_THROW(sampler(p, 10), error);
    EXPECT_THROW(sampler(params(-1.0f), 10), error);  // the request rules' range: [0, 2]
}

}  // namespace
}  // namespace tandem
