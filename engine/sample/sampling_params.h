// Per-request sampling settings, as the OpenAI API and llama-server expose them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tandem {

constexpr int32_t k_max_logprobs = 20;  // alternatives per token (top_logprobs), at most

// A token and its log-probability (logprobs / top_logprobs).
struct token_logprob {
    int32_t id = 0;
    float logprob = 0.0f;
};

struct sampling_params {
    float temperature = 1.0f;         // 0: greedy (argmax, ties to the lowest id)
    int32_t top_k = 0;                // 0: off
    float top_p = 1.0f;               // 1: off
    float min_p = 0.0f;               // 0: off
    float repetition_penalty = 1.0f;  // 1: off (llama.cpp style: divide positive logits, multiply negative)
    float presence_penalty = 0.0f;    // OpenAI: subtract once if the token appeared
    float frequency_penalty = 0.0f;   // OpenAI: subtract per occurrence
    int32_t penalty_last_n = 64;      // window of recent tokens the penalties look at; -1: all
    std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logits
    uint64_t seed = 0;                                  // per-request RNG seed
};

// A sampling setting out of its range: the field (the OpenAI API's name) and why.
struct param_error {
    std::string param;
    std::string message;
};

// The ranges of every sampling setting (the OpenAI API's, where it has one): temperature [0, 2],
// top_k >= 0, top_p and min_p [0, 1], presence and frequency penalties [-2, 2], repetition penalty
// [0.01, 10], penalty_last_n >= -1, logit_bias ids in the vocabulary and biases in [-100, 100] or
// -inf. The one owner of these rules: requests are checked with it, and the sampler refuses
// parameters it refuses.
std::optional<param_error> check_sampling(const sampling_params& p, int32_t n_vocab);

}  // namespace tandem
