// Per-request sampling settings, as the OpenAI API and llama-server expose them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tandem {

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

}  // namespace tandem
