// The continuous-batching scheduler (vLLM v1 shape). There is no prefill or decode phase: each
// running sequence's n_computed catches up to its token count plus its drafts, in chunks bounded by
// a per-step token budget, so chunked prefill, decode, prefix hits and speculation follow from one
// rule. When KV blocks run out, the newest running sequence is preempted and requeued to be
// recomputed later. It also owns the rule of when a sequence ends, applied token by token. It never
// streams anything: each step's accepted tokens and ended sequences are the engine's to emit.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/sched/sequence.h"

namespace tandem {

class kv_cache_manager;

struct sched_config {
    int32_t max_running = 4;
    int32_t batch_size = 512;  // rows per step (prompt tokens, last tokens and drafts), over all sequences
    // Prompt tokens per step while other sequences decode (0: no cap). On a CPU a step's time grows
    // with its prompt tokens, and every running stream waits for the whole step.
    int32_t prefill_chunk = 64;
    int32_t ctx_size = 2048;                            // per sequence
    std::function<bool(int32_t)> is_eog;                // end-of-generation tokens (from the tokenizer)
    std::function<std::string(int32_t)> token_piece;    // a token's bytes, for stop strings (from the tokenizer)
    std::function<std::string(int32_t)> special_piece;  // a control token's text (for sequence::shown_special)
};

// One scheduled piece of work for the sequence `seq_id`, starting at its n_computed: the next
// n_new - n_draft of its tokens, then its n_draft drafts.
struct sched_item {
    uint64_t seq_id = 0;
    int64_t start = 0;
    int32_t n_new = 0;
    int32_t n_draft = 0;
    bool sample = false;  // reaches the end of the tokens: sample the last token's row and each draft's

    int32_t n_logit_rows() const { return sample ? n_draft + 1 : 0; }
    int32_t first_logit_row() const { return n_new - n_draft - 1; }  // within the item's rows
};

struct step_plan {
    std::vector<sched_item> items;
    bool empty() const { return items.empty(); }
    int64_t n_rows() const {
        int64_t n = 0;
        for (const sched_item& it : items) n += it.n_new;
        return n;
    }
};

// Totals of the speculative rounds verified so far (vLLM / llama.cpp metric names).
struct spec_counters {
    int64_t n_drafts = 0;                   // rounds with at least one draft token
    int64_t n_draft_tokens = 0;             // draft tokens verified
    int64_t n_accepted = 0;                 // of those, accepted
    int64_t accepted_at[k_max_draft] = {};  // accepted draft tokens by position in their round
};

// A token a step accepted, with what the client sees of it.
struct emitted_token {
    sequence* seq = nullptr;  // valid until the output that holds it is dropped
    int32_t token = -1;
    float logprob = 0.0f;
    std::vector<token_logprob> top;
    std::string text;  // see stream_event::text
};

// What happened since the engine last took it: accepted tokens in order, then the sequences that
// ended (their KV blocks already freed; `why`, `error` and `tail_text` set).
struct sched_output {
    std::vector<emitted_token> tokens;
    std::vector<std::unique_ptr<sequence>> finished;
};

class scheduler {
  public:
    scheduler(const sched_config& cfg, kv_cache_manager& kv);

    void add(std::unique_ptr<sequence> seq);  // to the back of the waiting queue
    // Ends the sequence (by default as `aborted`); false if unknown.
    bool abort(uint64_t id, finish_reason why = finish_reason::aborted, const std::string& message = {});
    void abort_all(finish_reason why, const std::string& message = {});

    // Chooses this step's work and allocates its KV slots: every sequence's required rows first,
    // then the drafts of decoding sequences in what is left (a draft that does not fit is cut).
    step_plan schedule();

    // A token drawn for one verified row of an item.
    struct sampled {
        int32_t token;
        float logprob;
        std::vector<token_logprob> top;
    };
    // Draws the token of row `row` of the plan's item `item` (row 0: the last token's; i: draft i's)
    // with the sequence's sampler; s.tokens holds every token accepted before it.
    using sample_fn = std::function<sampled(size_t item, sequence&, int32_t row)>;
    // Applies a step's results, item by item and token by token: samples the first row, appends the
    // token to the sequence and to the output, ends the sequence if that token ends it (nothing after
    // it is sampled or emitted), and goes on to the next row while the token equals the draft it
    // verifies. Then advances n_computed to the accepted tokens, rolls the KV cache back to them and
    // registers full blocks.
    void update(const step_plan& plan, const sample_fn& sample);
    // Moves the tokens and ended sequences since the last call (update, abort and abort_all add to
    // them) into `into`, whose former contents are dropped and whose buffers the scheduler keeps for
    // the next steps (no allocation per step).
    void take_output(sched_output& into);

    // Drafts worth verifying for a decoding sequence: those that fit before its length limits
    // (max_tokens, the context), less the token every round adds anyway; >= 0.
    int64_t draft_room(const sequence& s) const;

    sequence& running(uint64_t id);  // a sequence of the current plan
    std::span<const std::unique_ptr<sequence>> running() const { return running_; }

    int64_t n_running() const { return static_cast<int64_t>(running_.size()); }
    int64_t n_waiting() const { return static_cast<int64_t>(waiting_.size()); }
    int64_t n_preemptions() const { return n_preemptions_; }
    int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }
    const spec_counters& spec() const { return spec_; }

  private:
    // Admits the first waiting sequence with a first chunk of at most `room` tokens (room > 0);
    // returns the chunk's size, 0 when the KV cache has no room for it.
    int32_t admit_one(int32_t room, step_plan& plan);
    void preempt(sequence& s);
    // Frees the sequence's blocks and moves it to the output's finished sequences.
    void finish(std::unique_ptr<sequence> s, finish_reason why, const std::string& message = {});
    // Whether the sequence's last token ends it; called once per token with its shown_piece (it feeds
    // the text stream, and returns in `text` what the token adds to the shown text).
    bool finished(sequence& s, finish_reason& why, std::string_view piece, std::string& text);
    // The bytes the sequence's text shows for a token it generated (none for an end of generation).
    std::string shown_piece(const sequence& s, int32_t token) const;
    // Whether a token the sequence generated is an end of generation (not one its grammar took as text).
    bool ends_generation(const sequence& s, int32_t token) const;
    void add_drafts(step_plan& plan, int32_t budget);
    void commit(sequence& s);
    void record_round(sequence& s, int32_t n_draft, int32_t n_accepted);

    sched_config cfg_;
    kv_cache_manager& kv_;
    std::deque<std::unique_ptr<sequence>> waiting_;
    std::vector<std::unique_ptr<sequence>> running_;  // admission order
    sched_output out_;
    int64_t admit_counter_ = 0;
    int64_t n_preemptions_ = 0;
    int64_t prefix_hit_tokens_ = 0;
    spec_counters spec_;
};

}  // namespace tandem
