// The engine thread's state of one request. Requests cross module boundaries as integer ids;
// only the scheduler and the engine thread touch these (after submit() builds one and hands it over
// under the inbox lock).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/timing.h"
#include "engine/engine.h"
#include "engine/grammar/token_mask.h"
#include "engine/sample/sampler.h"
#include "engine/sched/reasoning_budget.h"
#include "engine/tokenizer/text_stream.h"

namespace tandem {

// A sequence's speculative-decoding state. The drafts are proposals for the positions after the
// last token; they are never part of `tokens` until the anchor accepted them.
struct spec_state {
    std::vector<int32_t> draft;  // this round's proposals (unverified); empty: a plain decode step
    // The anchor's final hidden state at the row that produced the last token (an MTP drafter's
    // input), valid when has_hidden; (n_embd).
    std::vector<float> hidden;
    bool has_hidden = false;
    // A draft model keeps K/V of this sequence in the shared cache: n_draft_kv tokens of it so far.
    // Blocks are registered in the prefix cache only once both models have computed them.
    bool draft_kv = false;
    int64_t n_draft_kv = 0;
    // When the drafter samples (a model drafter, for a request that samples): its own sampler (the
    // request's chain with another seed) and the distribution it drew each draft from, draft_q[i]
    // for draft[i], which the anchor's ratio acceptance needs.
    std::unique_ptr<sampler> draft_smp;
    std::array<std::vector<token_prob>, k_max_draft> draft_q;
    std::vector<int32_t> draft_history;  // scratch: the drafter's penalty window over tokens and drafts
    // Structured output: the sequence's matcher advanced along this round's drafts, so a model
    // drafter drafts only what the grammar allows (draft_next).
    std::optional<gram::grammar_matcher> draft_gm;
    double acceptance = 0.7;             // estimated probability that a draft token is accepted (the draft policy's)
    double seen = 0, seen_accepted = 0;  // verified draft tokens and of those accepted, fading with age
    int32_t n_drafts = 0, n_draft_tokens = 0, n_accepted = 0;
    int32_t last_draft = 0, last_accepted = 0;  // the last verified round (read by the draft policy)
    // The drafter proved useless for this sequence (the draft policy's call): it drafts no more, and a
    // draft model stops computing its K/V, so blocks completed after that stay out of the prefix cache.
    bool retired = false;
    int32_t idle_rounds = 0;  // rounds in a row the draft policy chose no draft for it

    // Drops everything that depends on the cache's contents beyond its first n_kept tokens
    // (preemption: 0; admission with a prefix hit: the hit).
    void reset_cache_state(int64_t n_kept) {
        draft.clear();
        has_hidden = false;
        n_draft_kv = n_kept;
    }
    // Tokens every model has computed, of the first n_computed.
    int64_t n_computed_by_all(int64_t n_computed) const {
        return draft_kv ? std::min(n_computed, n_draft_kv) : n_computed;
    }
};

struct sequence {
    uint64_t id = 0;
    std::vector<int32_t> tokens;  // prompt, then generated tokens
    int32_t n_prompt = 0;
    int32_t n_prompt_cached = -1;  // prompt tokens the prefix cache served at first admission (-1: not admitted)
    int64_t n_computed = 0;        // tokens whose K/V are in the cache; catches up to tokens.size()
    int32_t max_tokens = -1;       // generated tokens allowed (-1: until the context ends)
    int32_t n_logprobs = -1;
    bool ignore_eos = false;
    std::unique_ptr<sampler> smp;
    // Structured output: the request's grammar, and where the generated tokens have taken it (made
    // by the engine thread at admission; advanced by each sampled token).
    std::shared_ptr<const gram::compiled_grammar> grammar;
    std::unique_ptr<gram::grammar_matcher> gm;
    bool grammar_stuck = false;          // a sampled token the grammar does not allow (no allowed token was left)
    text_stream text;                    // the generated text, cut at the request's stop strings
    std::vector<int32_t> shown_special;  // sorted: control tokens whose text the stream shows
    reasoning_budget budget;             // forces the end of thinking after its limit
    // The engine's side: the request's event stream (the scheduler never touches it), and whether
    // it is full, in which case the scheduler runs nothing for this sequence (backpressure).
    std::shared_ptr<request_stream> stream;
    bool paused = false;
    spec_state spec;
    int64_t admitted_at = -1;  // admission order; the newest running sequence is preempted first
    int32_t n_preempted = 0;
    steady_clock::time_point submitted_at = steady_clock::now();
    steady_clock::time_point first_token_at{}, last_token_at{};  // when they were sampled
    // How it ended, once it did (set by the scheduler, streamed by the engine).
    bool ended = false;
    finish_reason why = finish_reason::stop;
    std::string error;      // for finish_reason::error
    std::string tail_text;  // the text still held back when it ended

    int32_t n_generated() const { return static_cast<int32_t>(tokens.size()) - n_prompt; }
    // Every token but the last is in the cache: the next step verifies the last token (and drafts).
    bool decoding() const { return n_computed + 1 == static_cast<int64_t>(tokens.size()); }
};

}  // namespace tandem
