// The continuous-batching scheduler (vLLM v1 shape). There is no prefill or decode phase: each
// running sequence's n_computed catches up to its token count, in chunks bounded by a per-step
// token budget, so chunked prefill, decode and prefix hits follow from one rule. When KV blocks
// run out, the newest running sequence is preempted and requeued to be recomputed later.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/sched/sequence.h"

namespace tandem {

class kv_cache_manager;

struct sched_config {
    int32_t max_running = 4;
    int32_t token_budget = 512;  // new tokens per step, over all sequences
    // Prompt tokens per step while other sequences decode (0: no cap). On a CPU a step's time grows
    // with its prompt tokens, and every running stream waits for the whole step.
    int32_t mixed_prefill_budget = 64;
    int32_t ctx_size = 2048;              // per sequence
    std::function<bool(int32_t)> is_eog;  // end-of-generation tokens (from the tokenizer)
};

// One scheduled piece of work: `n_new` tokens of a sequence starting at its n_computed.
struct sched_item {
    sequence* seq = nullptr;
    int64_t start = 0;
    int32_t n_new = 0;
    bool sample = false;  // this chunk reaches the end of the sequence's tokens: sample the next one
};

struct step_plan {
    std::vector<sched_item> items;
    bool empty() const { return items.empty(); }
};

class scheduler {
  public:
    scheduler(const sched_config& cfg, kv_cache_manager& kv);

    void add(std::unique_ptr<sequence> seq);  // to the back of the waiting queue
    bool abort(uint64_t id);                  // ends the sequence with `aborted`; false if unknown
    void abort_all(finish_reason why, const std::string& message = {});

    // Chooses this step's work and allocates its KV slots.
    step_plan schedule();
    // Applies a step's results: advances n_computed, appends the sampled token of each item with
    // sample=true (tokens[i] for the i-th such item), streams it, and retires finished sequences.
    struct sampled {
        int32_t token;
        float logprob;
        std::vector<token_logprob> top;
    };
    void update(const step_plan& plan, std::vector<sampled>& tokens);

    int64_t n_running() const { return static_cast<int64_t>(running_.size()); }
    int64_t n_waiting() const { return static_cast<int64_t>(waiting_.size()); }
    int64_t n_preemptions() const { return n_preemptions_; }
    int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }

  private:
    // Admits the first waiting sequence with a first chunk of at most `room` tokens (room > 0);
    // returns the chunk's size, 0 when the KV cache has no room for it.
    int32_t admit_one(int32_t room, step_plan& plan);
    void preempt(sequence& s);
    void finish(sequence& s, finish_reason why, const std::string& message = {});
    bool finished(const sequence& s, finish_reason& why) const;

    sched_config cfg_;
    kv_cache_manager& kv_;
    std::deque<std::unique_ptr<sequence>> waiting_;
    std::vector<std::unique_ptr<sequence>> running_;  // admission order
    int64_t admit_counter_ = 0;
    int64_t n_preemptions_ = 0;
    int64_t prefix_hit_tokens_ = 0;
};

}  // namespace tandem
