// The engine thread's state of one request. Requests cross module boundaries as integer ids;
// only the scheduler and the engine thread touch these (after submit() builds one and hands it over
// under the inbox lock).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/timing.h"
#include "engine/engine.h"
#include "engine/sample/sampler.h"

namespace tandem {

struct sequence {
    uint64_t id = 0;
    std::vector<int32_t> tokens;  // prompt, then generated tokens
    int32_t n_prompt = 0;
    int64_t n_computed = 0;   // tokens whose K/V are in the cache; catches up to tokens.size()
    int32_t max_tokens = -1;  // generated tokens allowed (-1: until the context ends)
    int32_t n_logprobs = -1;
    bool ignore_eos = false;
    std::unique_ptr<sampler> smp;
    std::shared_ptr<request_stream> stream;
    int64_t admitted_at = -1;  // admission order; the newest running sequence is preempted first
    int32_t n_preempted = 0;
    steady_clock::time_point submitted_at = steady_clock::now();
    steady_clock::time_point first_token_at{}, last_token_at{};  // when they were sampled

    int32_t n_generated() const { return static_cast<int32_t>(tokens.size()) - n_prompt; }
};

}  // namespace tandem
