// One request's sampler: applies, in llama.cpp's order, logit bias, repetition/presence/frequency
// penalties, then greedy (temperature <= 0) or top-k, top-p, min-p, temperature, softmax and a draw
// from the sampler's own RNG (seeded from params.seed, so a request's tokens depend only on its
// seed and its logits). All scratch is sized at construction (a speculative rejection's at the
// first one): no allocation per token.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/sample/sampling_params.h"

namespace tandem {

// The index of the largest logit, ties to the lowest id (NaN never wins); -1 when no logit is above -inf.
int32_t logits_argmax(std::span<const float> logits);

// One token of the final distribution a draw was made from.
struct token_prob {
    int32_t id = 0;
    float p = 0.0f;
};

class sampler {
  public:
    // Throws tandem::error on out-of-range parameters (named in the message).
    sampler(const sampling_params& params, int32_t n_vocab);

    // logits: (n_vocab), modified in place: on return they hold the logits after bias and
    // penalties (what logprobs() reads). history: the sequence's tokens so far (prompt and
    // generated); the penalties look at its last penalty_last_n entries.
    int32_t sample(std::span<float> logits, std::span<const int32_t> history);

    // Verifies a token a drafter drew from its distribution q (ids and probabilities, as
    // last_distribution() gives them, so q(draft) > 0): builds the distribution p sample() would
    // draw from, keeps `draft` with probability min(1, p(draft) / q(draft)) and otherwise draws from
    // max(p - q, 0), renormalised. The token returned is distributed exactly as p, whatever q was
    // (ratio acceptance); a rejected draft is never returned. Greedy requests: the argmax. Takes one
    // or two draws from the sampler's RNG; last_distribution() is p afterwards.
    int32_t sample_draft(std::span<float> logits, std::span<const int32_t> history, int32_t draft,
                         std::span<const token_prob> q);

    // How many of the latest history tokens sample() looks at (penalties): 0 when none, SIZE_MAX for all.
    size_t history_used() const;

    // Log-softmax of `logits` as sample() left them, i.e. the model's distribution after bias and
    // penalties, before temperature and truncation (what OpenAI reports). Writes the top.size()
    // (<= 20) most likely tokens, most likely first (ties: lower id first; id -1 past the vocabulary),
    // and returns the log-probability of `token`.
    float logprobs(std::span<const float> logits, int32_t token, std::span<token_logprob> top) const;

    // The distribution the last sample() drew from (after truncation and temperature, summing to
    // 1, in no particular order); a single entry with p = 1 after a greedy pick. Valid until the
    // next sample(). For tests and debugging.
    std::span<const token_prob> last_distribution() const { return dist_; }

    const sampling_params& params() const { return params_; }

  private:
    struct candidate {
        float logit;
        int32_t id;
    };
    void apply_bias(std::span<float> logits) const;
    void apply_penalties(std::span<float> logits, std::span<const int32_t> history);
    int32_t pick_greedy(std::span<const float> logits);
    void top_k(std::span<const float> logits);
    void top_p_min_p();
    size_t top_p_cut(float max_l);
    bool candidates(std::span<float> logits, std::span<const int32_t> history);
    double weigh();
    double uniform();
    int32_t draw();
    int32_t draw_residual(std::span<const token_prob> q);

    sampling_params params_;
    int32_t n_vocab_;
    std::mt19937_64 rng_;
    std::vector<candidate> cand_;  // (n_vocab) scratch; the live candidates are cand_[0, n_cand_)
    size_t n_cand_ = 0;
    std::vector<int32_t> counts_;   // (n_vocab) zero between calls; sized only if penalties are on
    std::vector<token_prob> dist_;  // capacity n_vocab
    static constexpr size_t k_buckets = 1024;
    std::vector<double> bucket_mass_;     // (k_buckets) top-p histogram scratch
    std::vector<uint32_t> bucket_count_;  // (k_buckets)
    std::vector<float> q_dense_;          // (n_vocab) zero between calls; sized at the first rejected draft
};

}  // namespace tandem
