// The one header the server sees. The engine owns one thread that runs the continuous-batching
// step loop; HTTP threads talk to it through exactly two channels: submit/abort in, and a
// bounded per-request event stream out (its bound is the SSE backpressure).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sample/sampling_params.h"
#include "kernels/types.h"

namespace tandem {

namespace gram {
class compiled_grammar;
}

// The model's vocabulary as text: all the server and the CLI need of the tokenizer.
class text_codec {
  public:
    virtual ~text_codec() = default;
    virtual std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const = 0;
    virtual std::string token_piece(int32_t id) const = 0;  // raw bytes, may be partial UTF-8
    virtual std::string token_text(int32_t id) const = 0;   // the vocabulary string (for bos_token, eos_token)
    // The tokens' text as valid UTF-8 (an invalid or incomplete sequence becomes U+FFFD).
    virtual std::string decode(std::span<const int32_t> ids) const = 0;
    virtual int32_t bos_id() const = 0;  // -1: none
    virtual int32_t eos_id() const = 0;  // -1: none
    virtual bool is_eog(int32_t id) const = 0;
    virtual int32_t n_vocab() const = 0;
};

// The KV cache element types: "f16", "q8_0" or "q4_0"; nullopt for anything else.
std::optional<dtype> kv_type_from_name(std::string_view name);
// cpu, vulkan or vulkan:N (N up to 3 digits): the forms a --device value takes.
bool device_name_valid(std::string_view name);

// Speculative decoding: who drafts the tokens the anchor verifies. automatic: mtp for a
// gemma4-assistant draft file, draft for any other draft file, none without one.
enum class spec_type { automatic, none, mtp, draft, ngram };
constexpr int32_t k_max_draft = 16;                                   // drafts per sequence and round, at most
std::optional<spec_type> spec_type_from_name(std::string_view name);  // auto|none|mtp|draft|ngram
const char* spec_type_name(spec_type t);

struct engine_config {
    std::string model_path;
    int32_t n_threads = 0;       // 0: one per core
    std::string device = "cpu";  // cpu, vulkan or vulkan:N
    int32_t ctx_size = 0;        // per sequence; 0: the model's trained context
    int32_t parallel = 4;        // max running sequences
    dtype kv_type = dtype::f16;  // f16, q8_0 or q4_0
    int32_t kv_block_size = 16;  // tokens per KV block
    int64_t kv_blocks = 0;       // 0: derive from kv_budget_bytes
    int64_t kv_budget_bytes = 1ll << 30;
    int32_t max_queue = 64;        // waiting requests before 429
    int32_t batch_size = 512;      // rows per forward step (chunked prefill), over all sequences
    int32_t prefill_chunk = 64;    // prompt tokens per step while other sequences decode; 0: no cap
    int32_t stream_capacity = 64;  // events buffered per request before the sequence is paused
    // Speculative decoding.
    std::string draft_model_path;  // a gemma4-assistant (MTP) or a smaller model with the anchor's vocabulary
    spec_type spec = spec_type::automatic;
    int32_t draft_max = 3;       // drafts per sequence and round, 1..16; the engine picks 0..draft_max
    int32_t draft_min = 0;       // a shorter draft is dropped (a plain step instead)
    float draft_p_min = 0.0f;    // a drafter stops at a token it gives less than this probability
    bool draft_adaptive = true;  // choose each round's draft length from measured costs and acceptance
    // The engine thread sleeps while it has nothing to run, and wakes on a new request, an abort or a
    // reader making room in a full stream; this is only a safety net.
    int32_t idle_wake_ms = 1000;
};

struct completion_params {
    std::vector<int32_t> prompt;
    sampling_params sampling;
    int32_t max_tokens = -1;  // -1: until the context ends; else at least 1
    int32_t n_logprobs = -1;  // -1: no logprobs; 0..k_max_logprobs: chosen token plus this many alternatives
    bool ignore_eos = false;
    // The client chose sampling.seed: the output must be the one it gets without a drafter, so model
    // drafters draft greedily and the anchor draws and compares. Otherwise a request that samples
    // gets sampled drafts and ratio acceptance (min(1, p/q)), which keeps more drafts, with the same
    // output distribution but another draw.
    bool seed_fixed = false;
    // Generation ends after the token that completes one of these (in the decoded text of the
    // generated tokens, end-of-generation tokens excluded); none may be empty.
    std::vector<std::string> stop;
    // Control tokens whose text the stream shows (a chat format's markers such as <|channel|> or
    // [TOOL_CALLS], which the answer's parser must see); others show nothing.
    std::vector<int32_t> shown_special;
    // Reasoning budget: after `limit` tokens inside the reasoning block (opened by the prompt when
    // `open`, else when the generated text shows `start`, in whatever tokens), the engine writes the
    // `end_tokens` itself (they read `end`) and the model goes on with its answer. -1: no limit.
    struct reasoning_limit {
        int32_t limit = -1;
        std::string start, end;
        std::vector<int32_t> end_tokens;
        bool open = false;
    } reasoning;
    // Structured output: every generated token must continue a text of this grammar (its mask sets
    // the other logits to -inf before bias, penalties and truncation); the sequence ends ("stop") as
    // soon as the text is complete and nothing may follow it. Null: unconstrained. Shared, immutable
    // but for its mask cache, which only the engine thread touches.
    std::shared_ptr<const gram::compiled_grammar> grammar;
};

enum class finish_reason { stop, length, aborted, error };

// One event of a request's stream: a token, or the end (exactly once, last).
struct stream_event {
    enum class kind { token, done } what = kind::token;
    int32_t token = -1;
    // The text to show now: for a token, what it adds (whole UTF-8 characters; nothing for an
    // end-of-generation token; text that may still become a stop string is held back, and a stop
    // string is cut with everything after it); for done, what was still held back.
    std::string text;
    float logprob = 0.0f;
    std::vector<token_logprob> top;              // filled only when n_logprobs > 0
    finish_reason reason = finish_reason::stop;  // for done
    std::string error;                           // for done with reason error
    int32_t n_prompt = 0;                        // for done: usage
    int32_t n_prompt_cached = 0;                 // for done: of n_prompt, tokens served from the prefix cache
    int32_t n_generated = 0;
    int32_t n_draft_tokens = 0;  // for done: draft tokens the anchor verified, and how many it accepted
    int32_t n_draft_accepted = 0;
    // For done, timed by the engine as it produced the tokens (not as a reader drained them):
    // submit to the first token, and the first token to the last; both 0 when no token was made.
    double first_token_seconds = 0;
    double generation_seconds = 0;
};

// Filled by the engine thread, drained by the HTTP side. Thread-safe.
class request_stream {
  public:
    explicit request_stream(uint64_t id, size_t capacity) : id_(id), capacity_(capacity) {}
    uint64_t id() const { return id_; }

    // Consumer side. `notify` is called (on the engine thread, with no lock held) after each push;
    // it must only schedule work (e.g. post to a strand), never block.
    void set_notify(std::function<void()> notify);
    std::optional<stream_event> pop();
    bool done() const;

    // Producer side (engine thread). `on_space` is called (on the consumer's thread, with no lock
    // held) when a pop makes room in a full stream, so the producer can resume the request.
    void set_on_space(std::function<void()> on_space);
    bool full() const;
    void push(stream_event ev);

  private:
    uint64_t id_;
    size_t capacity_;
    mutable std::mutex mu_;
    std::deque<stream_event> events_;
    std::shared_ptr<const std::function<void()>> notify_, on_space_;
    bool done_ = false;
};

struct model_summary {
    std::string name;  // general.name or the file stem
    std::string architecture;
    int32_t n_ctx = 0;  // effective per-sequence context
    int32_t n_vocab = 0;
    std::string chat_template;         // tokenizer.chat_template, may be empty
    spec_type spec = spec_type::none;  // resolved: never automatic
    std::string draft_name;            // the drafter's file name or "ngram"; empty without speculation
};

struct engine_metrics {
    int64_t n_running = 0, n_waiting = 0;
    int64_t kv_blocks_used = 0, kv_blocks_total = 0;
    int64_t prompt_tokens = 0, generated_tokens = 0;
    int64_t prefix_cache_hit_tokens = 0, preemptions = 0;
    // Speculative decoding (vLLM / llama.cpp names): rounds with drafts, draft tokens verified, of
    // those accepted, and accepted tokens by position in their round (index 0: the first draft).
    int64_t spec_drafts = 0, spec_draft_tokens = 0, spec_accepted_tokens = 0;
    std::vector<int64_t> spec_accepted_per_pos;
};

enum class submit_error { queue_full, context_exceeded, invalid, stopping };

// Why a request was not taken, and the request field at fault (the OpenAI API's name: "prompt",
// "max_tokens", "top_logprobs", "stop" or a sampling setting; empty when no field is).
struct request_refusal {
    submit_error kind = submit_error::invalid;
    std::string param;
    std::string message;
};

struct submit_result {
    std::shared_ptr<request_stream> stream;  // null when refused
    std::optional<request_refusal> refusal;
};

// Every rule a request must meet, whoever sends it: a non-empty prompt shorter than the context, of
// token ids in the vocabulary; max_tokens -1 or at least 1; n_logprobs -1..k_max_logprobs; no
// empty stop string; sampling settings in their ranges (check_sampling). The one owner of these
// rules: engine::submit applies them, and the server asks engine::check before it submits anything.
std::optional<request_refusal> check_request(const completion_params& p, int32_t n_ctx, int32_t n_vocab);

class engine {
  public:
    virtual ~engine() = default;
    // Loads the model and starts the engine thread; throws tandem::error.
    static std::unique_ptr<engine> create(const engine_config& cfg);

    virtual const text_codec& codec() const = 0;
    virtual const model_summary& summary() const = 0;
    // The refusal submit() would give for request rules (check_request), without submitting.
    std::optional<request_refusal> check(const completion_params& p) const {
        return check_request(p, summary().n_ctx, summary().n_vocab);
    }
    virtual submit_result submit(completion_params params) = 0;
    // Cheap admission pre-check so the server can answer 429 before tokenizing.
    virtual bool queue_full() const = 0;
    virtual void abort(uint64_t request_id) = 0;  // idempotent; the stream ends with `aborted`
    virtual engine_metrics metrics() const = 0;
    // When the engine loop last went round: at least every idle_wake_ms while idle, once per step while
    // busy. A service manager's watchdog follows it (a wedged engine stops it).
    virtual std::chrono::steady_clock::time_point heartbeat() const = 0;
    // Why the engine stopped by itself, once it has: the compute device was lost (tandem::device_lost).
    // By then every request has ended with an error and new ones are refused as at shutdown; the
    // server should exit non-zero for its service manager to restart it.
    virtual std::optional<std::string> failure() const { return std::nullopt; }
    // Stops admitting, aborts everything still running, joins the engine thread.
    virtual void shutdown() = 0;
};

}  // namespace tandem
