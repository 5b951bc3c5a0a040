// Drafters propose the tokens the anchor verifies: an MTP assistant reading the anchor's KV, a
// smaller draft model with KV blocks of its own, or n-gram lookup in the sequence's history. One
// interface; the engine calls it once per step for every sequence that drafts, and the scheduler
// verifies the drafts in the next step (engine/sched/scheduler.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/sched/sequence.h"

namespace tandem {

class kv_cache_manager;
class runner;

// One sequence to draft for: at most k (>= 1) tokens after its last token. KV slots are allocated
// for positions up to tokens.size() + k - 1.
struct draft_request {
    sequence* seq = nullptr;
    int32_t k = 0;
};

class drafter {
  public:
    virtual ~drafter() = default;
    // Whether the anchor's forward must return the hidden state of each sampled row (MTP).
    virtual bool needs_hidden() const { return false; }
    // Appends at most k tokens to each request's seq->spec.draft (none when unsure). `running` are
    // all running sequences: a drafter with a KV cache of its own catches up on their computed
    // tokens. Writes only spec state; never the tokens, n_computed or block tables.
    virtual void propose(std::span<const draft_request> reqs, std::span<const std::unique_ptr<sequence>> running) = 0;
};

struct draft_options {
    int32_t n_vocab = 0;     // the anchor's
    float p_min = 0.0f;      // stop a draft at a token the drafter gives less probability than this
    int32_t max_rows = 512;  // rows of one drafter forward (the step's batch size)
};

// The argmax of a drafter's logits (ties: the lowest id) when its probability is at least p_min
// (p_min 0: always); -1 otherwise.
int32_t draft_pick(std::span<const float> logits, float p_min);

// Appends a model drafter's next draft to s.spec.draft from its logits (the anchor's vocabulary;
// modified): a draw with s.spec.draft_smp when set, the distribution drawn from kept beside it in
// s.spec.draft_q, else draft_pick. False, and nothing appended, when the token's probability is
// below p_min.
bool draft_next(sequence& s, std::span<float> logits, float p_min);

// The MTP assistant of the runner's anchor: one drafter forward per draft step for every drafting
// sequence at once, all steps at the sequence's next position, reading the anchor's cache.
std::unique_ptr<drafter> make_mtp_drafter(runner& r, const kv_cache_manager& kv, const draft_options& o);
// The runner's draft model, with its KV groups after the anchor's in the same cache.
std::unique_ptr<drafter> make_model_drafter(runner& r, const kv_cache_manager& kv, const draft_options& o);
// Prompt lookup: the continuation of the most recent earlier occurrence of the sequence's last
// n tokens (n from n_max down to n_min).
std::unique_ptr<drafter> make_ngram_drafter(int32_t n_min = 2, int32_t n_max = 4);

// The n-gram rule alone, for tests: appends up to k tokens to `out`.
void ngram_lookup(std::span<const int32_t> tokens, int32_t k, int32_t n_min, int32_t n_max, std::vector<int32_t>& out);

}  // namespace tandem
