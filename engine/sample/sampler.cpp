// sampler: the llama.cpp sampler chain (bias, penalties, top-k, top-p, min-p, temperature, dist)
// over scratch buffers sized once, with top-p sorting only as much of the vocabulary as it needs.
#include "engine/sample/sampler.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "common/check.h"
#include "common/error.h"

namespace tandem {
namespace {

constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();

void require(bool ok, const std::string& what) {
    if (!ok) throw error("sampling parameters: " + what);
}

bool penalties_on(const sampling_params& p) {
    return p.penalty_last_n != 0 &&
           (p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f);
}

}  // namespace

sampler::sampler(const sampling_params& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
    require(n_vocab > 0, "vocabulary size must be positive, got " + std::to_string(n_vocab));
    if (const std::optional<param_error> e = check_sampling(params, n_vocab))
        throw error("sampling parameters: " + e->message);
    const size_t n = static_cast<size_t>(n_vocab);
    if (params.temperature > 0.0f) cand_.resize(n);
    dist_.reserve(params.temperature > 0.0f ? n : 1);
    if (penalties_on(params)) counts_.assign(n, 0);
    if (params.temperature > 0.0f && params.top_p < 1.0f) {
        bucket_mass_.assign(k_buckets, 0.0);
        bucket_count_.assign(k_buckets, 0);
    }
}

void sampler::apply_bias(std::span<float> logits) const {
    for (const auto& [id, bias] : params_.logit_bias) logits[static_cast<size_t>(id)] += bias;
}

void sampler::apply_penalties(std::span<float> logits, std::span<const int32_t> history) {
    if (!penalties_on(params_)) return;
    size_t n = history.size();
    if (params_.penalty_last_n > 0) n = std::min(n, static_cast<size_t>(params_.penalty_last_n));
    const std::span<const int32_t> window = history.last(n);
    for (int32_t t : window) {
        TANDEM_CHECK(t >= 0 && t < n_vocab_);
        ++counts_[static_cast<size_t>(t)];
    }
    const float rep = params_.repetition_penalty;
    for (int32_t t : window) {
        int32_t& c = counts_[static_cast<size_t>(t)];
        if (c == 0) continue;  // this token was already handled
        float& l = logits[static_cast<size_t>(t)];
        l = l <= 0.0f ? l * rep : l / rep;
        l -= static_cast<float>(c) * params_.frequency_penalty + params_.presence_penalty;
        c = 0;
    }
}

int32_t logits_argmax(std::span<const float> logits) {
    int32_t best = -1;
    float best_l = k_neg_inf;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (logits[i] > best_l) {  // strict: ties keep the lower id; NaN never wins
            best_l = logits[i];
            best = static_cast<int32_t>(i);
        }
    }
    return best;
}

int32_t sampler::pick_greedy(std::span<const float> logits) {
    const int32_t best = std::max(0, logits_argmax(logits));  // all -inf or NaN: token 0
    dist_.clear();
    dist_.push_back(token_prob{best, 1.0f});
    return best;
}

namespace {
struct more_likely {
    template <class C>
    bool operator()(const C& a, const C& b) const {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    }
};
}  // namespace

void sampler::top_k(std::span<const float> logits) {
    const size_t k = static_cast<size_t>(params_.top_k);
    size_t n = 0;
    if (k == 0 || k >= logits.size()) {
        for (size_t i = 0; i < logits.size(); ++i) {
            const float l = logits[i];
            if (l > k_neg_inf)
                cand_[n++] = candidate{std::min(l, FLT_MAX), static_cast<int32_t>(i)};  // drops NaN, -inf
        }
        n_cand_ = n;
        return;
    }
    // One pass with a k-entry heap whose top is the least likely kept token: most tokens cost one compare.
    const auto heap = cand_.begin();
    for (size_t i = 0; i < logits.size(); ++i) {
        const float l = logits[i];
        if (!(l > k_neg_inf)) continue;
        const candidate c{std::min(l, FLT_MAX), static_cast<int32_t>(i)};
        if (n < k) {
            cand_[n++] = c;
            std::push_heap(heap, heap + static_cast<ptrdiff_t>(n), more_likely{});
        } else if (more_likely{}(c, cand_[0])) {
            std::pop_heap(heap, heap + static_cast<ptrdiff_t>(n), more_likely{});
            cand_[n - 1] = c;
            std::push_heap(heap, heap + static_cast<ptrdiff_t>(n), more_likely{});
        }
    }
    n_cand_ = n;
}

// top_p on the top-k candidates, then min_p (a test against the maximum logit, which top_p keeps).
// top_p without a full sort: a histogram of probability mass over logit buckets below the maximum
// finds the bucket where the sorted cumulative mass reaches top_p; only that bucket is sorted.
void sampler::top_p_min_p() {
    float max_l = k_neg_inf;
    for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cand_[i].logit);
    if (params_.top_p < 1.0f) n_cand_ = top_p_cut(max_l);
    if (params_.min_p > 0.0f) {
        const float threshold = max_l + std::log(params_.min_p);
        size_t n = 0;
        for (size_t i = 0; i < n_cand_; ++i) {
            if (cand_[i].logit >= threshold) cand_[n++] = cand_[i];
        }
        n_cand_ = n;  // the maximum always passes
    }
}

size_t sampler::top_p_cut(float max_l) {
    constexpr float k_range = 32.0f;  // nats below the maximum; anything lower shares the last bucket
    const float scale = static_cast<float>(k_buckets) / k_range;
    std::fill(bucket_mass_.begin(), bucket_mass_.end(), 0.0);
    std::fill(bucket_count_.begin(), bucket_count_.end(), 0);
    auto bucket_of = [&](float l) {
        return static_cast<size_t>(std::min((max_l - l) * scale, static_cast<float>(k_buckets - 1)));
    };
    for (size_t i = 0; i < n_cand_; ++i) {
        const size_t b = bucket_of(cand_[i].logit);
        bucket_mass_[b] += static_cast<double>(std::exp(cand_[i].logit - max_l));
        ++bucket_count_[b];
    }
    double total = 0.0;
    for (double m : bucket_mass_) total += m;
    const double target = static_cast<double>(params_.top_p) * total;
    size_t crossing = 0, n_before = 0;
    double cum = 0.0;
    while (crossing + 1 < k_buckets && cum + bucket_mass_[crossing] < target) {
        cum += bucket_mass_[crossing];
        n_before += bucket_count_[crossing];
        ++crossing;
    }
    // Candidates of the buckets above the crossing one first (kept whatever their order), then
    // the crossing bucket, sorted, kept up to the token that reaches top_p.
    const auto first = cand_.begin();
    auto mid = std::partition(first, first + static_cast<ptrdiff_t>(n_cand_),
                              [&](const candidate& c) { return bucket_of(c.logit) < crossing; });
    auto last = std::partition(mid, first + static_cast<ptrdiff_t>(n_cand_),
                               [&](const candidate& c) { return bucket_of(c.logit) == crossing; });
    TANDEM_CHECK(static_cast<size_t>(mid - first) == n_before);
    std::sort(mid, last, more_likely{});
    for (auto it = mid; it != last; ++it) {
        cum += static_cast<double>(std::exp(it->logit - max_l));
        if (cum >= target) return static_cast<size_t>(it - first) + 1;
    }
    return static_cast<size_t>(last - first);
}

// dist_ = the candidates' weights exp((logit - max) / temperature), unnormalised; returns their sum
// (of the same rounded weights the draws walk).
double sampler::weigh() {
    float max_l = k_neg_inf;
    for (size_t i = 0; i < n_cand_; ++i) max_l = std::max(max_l, cand_[i].logit);
    const float inv_t = 1.0f / params_.temperature;
    double total = 0.0;
    dist_.clear();
    for (size_t i = 0; i < n_cand_; ++i) {
        const float w = std::exp((cand_[i].logit - max_l) * inv_t);
        total += static_cast<double>(w);
        dist_.push_back(token_prob{cand_[i].id, w});
    }
    return total;
}

double sampler::uniform() {
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
}

int32_t sampler::draw() {
    const double total = weigh();
    const double u = uniform() * total;
    size_t chosen = dist_.size() - 1;
    double cum = 0.0;
    for (size_t i = 0; i < dist_.size(); ++i) {
        cum += static_cast<double>(dist_[i].p);
        if (u < cum) {
            chosen = i;
            break;
        }
    }
    const double inv_total = 1.0 / total;
    for (token_prob& tp : dist_) tp.p = static_cast<float>(tp.p * inv_total);
    return dist_[chosen].id;
}

// Bias and penalties on `logits`, then the candidates sample() draws from; false for a greedy pick.
bool sampler::candidates(std::span<float> logits, std::span<const int32_t> history) {
    TANDEM_CHECK(logits.size() == static_cast<size_t>(n_vocab_));
    apply_bias(logits);
    apply_penalties(logits, history);
    if (params_.temperature <= 0.0f) return false;
    top_k(logits);
    if (n_cand_ == 0) return false;  // every logit is -inf or NaN
    top_p_min_p();
    return true;
}

int32_t sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
    return candidates(logits, history) ? draw() : pick_greedy(logits);
}

int32_t sampler::sample_draft(std::span<float> logits, std::span<const int32_t> history, int32_t draft,
                              std::span<const token_prob> q) {
    if (!candidates(logits, history)) return pick_greedy(logits);
    const double inv_total = 1.0 / weigh();
    float p_draft = 0.0f, q_draft = 0.0f;
    for (token_prob& tp : dist_) {
        tp.p = static_cast<float>(tp.p * inv_total);
        if (tp.id == draft) p_draft = tp.p;
    }
    for (const token_prob& tp : q) {
        if (tp.id == draft) q_draft = tp.p;
    }
    if (q_draft <= 0.0f) return draw_residual({});  // not drawn from q after all: a plain draw from p
    if (uniform() * static_cast<double>(q_draft) < static_cast<double>(p_draft)) return draft;
    return draw_residual(q);
}

// A draw from max(p - q, 0) renormalised, p being dist_ (normalised); with an empty q, or when p - q
// has no mass left (p <= q everywhere, which only rounding allows after a rejection), from p.
int32_t sampler::draw_residual(std::span<const token_prob> q) {
    if (q_dense_.empty()) q_dense_.assign(static_cast<size_t>(n_vocab_), 0.0f);
    for (const token_prob& tp : q) q_dense_[static_cast<size_t>(tp.id)] = tp.p;
    auto mass = [&](const token_prob& tp) { return std::max(0.0f, tp.p - q_dense_[static_cast<size_t>(tp.id)]); };
    double total = 0.0;
    for (const token_prob& tp : dist_) total += static_cast<double>(mass(tp));
    const bool residual = total > 0.0;
    const double u = uniform() * (residual ? total : 1.0);
    int32_t chosen = -1;
    double cum = 0.0;
    for (const token_prob& tp : dist_) {
        const float w = residual ? mass(tp) : tp.p;
        if (w <= 0.0f) continue;
        chosen = tp.id;  // (u at the very top of the rounded sum: the last token with mass)
        cum += static_cast<double>(w);
        if (u < cum) break;
    }
    for (const token_prob& tp : q) q_dense_[static_cast<size_t>(tp.id)] = 0.0f;
    return chosen;
}

size_t sampler::history_used() const {
    if (!penalties_on(params_)) return 0;
    return params_.penalty_last_n < 0 ? SIZE_MAX : static_cast<size_t>(params_.penalty_last_n);
}

float sampler::logprobs(std::span<const float> logits, int32_t token, std::span<token_logprob> top) const {
    TANDEM_CHECK(logits.size() == static_cast<size_t>(n_vocab_));
    TANDEM_CHECK(token >= 0 && token < n_vocab_);
    TANDEM_CHECK(top.size() <= static_cast<size_t>(k_max_logprobs));
    float max_l = k_neg_inf;
    for (float l : logits) max_l = std::max(max_l, l);  // NaN never wins
    double sum = 0.0;
    for (float l : logits) {
        if (l > k_neg_inf) sum += static_cast<double>(std::exp(l - max_l));
    }
    const double lse = static_cast<double>(max_l) + std::log(sum);
    // Insertion into a sorted head of at most 20 entries; most tokens fail the first comparison.
    struct entry {
        float logit;
        int32_t id;
    };
    entry best[k_max_logprobs];
    size_t n = 0;
    const size_t want = top.size();
    for (size_t i = 0; i < logits.size() && want > 0; ++i) {
        const entry e{std::isnan(logits[i]) ? k_neg_inf : logits[i], static_cast<int32_t>(i)};
        if (n == want && !more_likely{}(e, best[n - 1])) continue;
        size_t j = n < want ? n++ : n - 1;
        while (j > 0 && more_likely{}(e, best[j - 1])) {
            best[j] = best[j - 1];
            --j;
        }
        best[j] = e;
    }
    for (size_t i = 0; i < n; ++i) top[i] = token_logprob{best[i].id, static_cast<float>(best[i].logit - lse)};
    for (size_t i = n; i < want; ++i) top[i] = token_logprob{-1, k_neg_inf};  // vocabulary smaller than top
    return static_cast<float>(logits[static_cast<size_t>(token)] - lse);
}

}  // namespace tandem
