// engine_impl: the engine thread. Each step reads top to bottom: take new requests and aborts
// from the inbox, plan (scheduler), forward (runner), sample and accept token by token, commit and
// emit (scheduler), then draft the next round's tokens (drafter, draft policy).
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "common/error.h"
#include "common/timing.h"
#include "engine/grammar/token_mask.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/runner.h"
#include "engine/sample/sampler.h"
#include "engine/sched/stream_output.h"
#include "engine/spec/calibrate.h"
#include "engine/spec/draft_policy.h"
#include "engine/spec/drafter.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer_codec.h"

namespace tandem {
namespace {

// The drafter the configuration asks for, checked before anything loads.
spec_type resolve_spec(const engine_config& cfg, const gguf::file* draft) {
    if (cfg.draft_max < 1 || cfg.draft_max > k_max_draft)
        throw error("--draft-max must be in [1, " + std::to_string(k_max_draft) + "], got " +
                    std::to_string(cfg.draft_max));
    if (cfg.draft_min < 0 || cfg.draft_min > cfg.draft_max)
        throw error("--draft-min must be in [0, --draft-max], got " + std::to_string(cfg.draft_min));
    if (!(cfg.draft_p_min >= 0.0f && cfg.draft_p_min <= 1.0f))
        throw error("--draft-p-min must be in [0, 1], got " + std::to_string(cfg.draft_p_min));
    const bool assistant = draft && draft->get_string("general.architecture").value_or("") == "gemma4-assistant";
    spec_type t = cfg.spec;
    if (t == spec_type::automatic) t = !draft ? spec_type::none : assistant ? spec_type::mtp : spec_type::draft;
    if ((t == spec_type::mtp || t == spec_type::draft) && !draft)
        throw error(std::string("--spec-type ") + spec_type_name(t) + " needs a drafter file (-md, --draft-model)");
    if ((t == spec_type::none || t == spec_type::ngram) && draft)
        throw error(std::string("--spec-type ") + spec_type_name(t) + " takes no draft model, but -md " +
                    draft->path() + " was given");
    if (t == spec_type::draft && assistant)
        throw error(draft->path() + ": is a Gemma 4 MTP assistant; use --spec-type mtp (or auto)");
    return t;
}

// A draft model must speak the anchor's vocabulary: the same tokens, piece for piece.
void check_same_vocab(const tokenizer& anchor, const gguf::file& draft_file, int32_t anchor_n_vocab,
                      int32_t draft_n_vocab) {
    const std::unique_ptr<tokenizer> dt = tokenizer::from_gguf(draft_file);
    const std::string why = draft_file.path() + ": the draft model's vocabulary differs from the anchor's (";
    if (dt->n_vocab() != anchor.n_vocab() || draft_n_vocab != anchor_n_vocab)
        throw error(why + std::to_string(dt->n_vocab()) + " tokens against " + std::to_string(anchor.n_vocab()) + ")");
    for (int32_t i = 0; i < anchor.n_vocab(); ++i) {
        if (dt->token_piece(i, true) != anchor.token_piece(i, true))
            throw error(why + "token " + std::to_string(i) + " differs)");
    }
}

class engine_impl final : public engine {
  public:
    explicit engine_impl(const engine_config& cfg)
        : cfg_(cfg),
          file_(gguf::file::open(cfg.model_path)),
          draft_file_(cfg.draft_model_path.empty() ? nullptr : gguf::file::open(cfg.draft_model_path)),
          spec_(resolve_spec(cfg, draft_file_.get())),
          tok_(tokenizer::from_gguf(*file_)),
          codec_(make_text_codec(*tok_)),
          runner_(cfg, spec_, *file_, draft_file_.get()),
          kv_(runner_.kv_config()) {
        const model_info& mi = runner_.anchor().info();
        summary_.architecture = mi.arch;
        summary_.name = mi.name;
        summary_.n_vocab = mi.n_vocab;
        summary_.n_ctx = cfg.ctx_size > 0 ? cfg.ctx_size : mi.n_ctx_train;
        summary_.chat_template = std::string(file_->get_string("tokenizer.chat_template").value_or(""));
        summary_.spec = spec_;
        if (tok_->n_vocab() > mi.n_vocab) {
            throw error(cfg.model_path + ": tokenizer has " + std::to_string(tok_->n_vocab()) +
                        " tokens but the model only " + std::to_string(mi.n_vocab));
        }
        sched_config sc;
        sc.max_running = cfg.parallel;
        sc.batch_size = cfg.batch_size;
        sc.prefill_chunk = cfg.prefill_chunk;
        sc.ctx_size = summary_.n_ctx;
        sc.is_eog = [this](int32_t id) { return tok_->is_eog(id); };
        sc.token_piece = [this](int32_t id) { return tok_->token_piece(id); };
        sc.special_piece = [this](int32_t id) { return tok_->token_piece(id, true); };
        sched_ = std::make_unique<scheduler>(sc, kv_);
        make_drafter();
        metrics_.kv_blocks_total = kv_.stats().n_blocks_total;
        spdlog::info(
            "model {} ({}): {} layers, vocab {}, context {} per sequence; KV cache {} blocks x {} tokens "
            "in {:.1f} MiB ({}; host memory is committed only as it fills); on {}",
            summary_.name, mi.arch, mi.n_layer, mi.n_vocab, summary_.n_ctx, kv_.stats().n_blocks_total,
            cfg.kv_block_size, static_cast<double>(runner_.kv_bytes()) / (1 << 20), dtype_info_of(cfg.kv_type).name,
            runner_.device_description());
        thread_ = std::thread([this] { loop(); });
    }

    ~engine_impl() override { shutdown(); }

    const text_codec& codec() const override { return *codec_; }
    const model_summary& summary() const override { return summary_; }

    submit_result submit(completion_params params) override {
        submit_result r;
        if ((r.refusal = check(params))) return r;
        auto smp = std::make_unique<sampler>(params.sampling, summary_.n_vocab);  // checked: cannot throw
        // A model drafter samples with the request's chain when the request samples and did not fix
        // its seed (its own seed); the anchor then accepts by ratio (completion_params::seed_fixed).
        std::unique_ptr<sampler> draft_smp;
        if ((spec_ == spec_type::mtp || spec_ == spec_type::draft) && params.sampling.temperature > 0.0f &&
            !params.seed_fixed) {
            sampling_params dp = params.sampling;
            dp.seed ^= 0x9e3779b97f4a7c15ull;
            draft_smp = std::make_unique<sampler>(dp, summary_.n_vocab);
        }
        std::lock_guard<std::mutex> lock(sig_->mu);
        if (stopping_) {
            r.refusal = request_refusal{submit_error::stopping, "", "the server is shutting down"};
            return r;
        }
        if (n_waiting_.load() + static_cast<int64_t>(inbox_.size()) >= cfg_.max_queue) {
            r.refusal = request_refusal{submit_error::queue_full, "", "too many requests are waiting"};
            return r;
        }
        auto seq = std::make_unique<sequence>();
        seq->id = next_id_++;
        seq->n_prompt = static_cast<int32_t>(params.prompt.size());
        seq->tokens = std::move(params.prompt);
        seq->max_tokens = params.max_tokens;
        seq->n_logprobs = params.n_logprobs;
        seq->ignore_eos = params.ignore_eos;
        seq->smp = std::move(smp);
        seq->grammar = std::move(params.grammar);
        seq->text = text_stream(std::move(params.stop));
        seq->shown_special = std::move(params.shown_special);
        std::sort(seq->shown_special.begin(), seq->shown_special.end());
        seq->budget.limit = params.reasoning.limit;
        seq->budget.start = std::move(params.reasoning.start);
        seq->budget.end = std::move(params.reasoning.end);
        seq->budget.end_tokens = std::move(params.reasoning.end_tokens);
        seq->budget.begin(params.reasoning.open);
        seq->spec.draft_kv = spec_ == spec_type::draft;
        seq->spec.draft_smp = std::move(draft_smp);
        seq->stream = std::make_shared<request_stream>(seq->id, static_cast<size_t>(cfg_.stream_capacity));
        seq->stream->set_on_space([weak = std::weak_ptr<wake_signal>(sig_)] {
            if (const std::shared_ptr<wake_signal> sig = weak.lock()) {
                std::lock_guard<std::mutex> lock(sig->mu);
                sig->space = true;
                sig->cv.notify_one();
            }
        });
        r.stream = seq->stream;
        inbox_.push_back(std::move(seq));
        sig_->cv.notify_one();
        return r;
    }

    bool queue_full() const override {
        std::lock_guard<std::mutex> lock(sig_->mu);
        return n_waiting_.load() + static_cast<int64_t>(inbox_.size()) >= cfg_.max_queue;
    }

    void abort(uint64_t id) override {
        std::lock_guard<std::mutex> lock(sig_->mu);
        aborts_.push_back(id);
        sig_->cv.notify_one();
    }

    std::chrono::steady_clock::time_point heartbeat() const override {
        return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(heartbeat_.load()));
    }

    engine_metrics metrics() const override {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        return metrics_;
    }

    std::optional<std::string> failure() const override {
        std::lock_guard<std::mutex> lock(sig_->mu);
        return failure_;
    }

    void shutdown() override {
        {
            std::lock_guard<std::mutex> lock(sig_->mu);
            if (stopping_ && !thread_.joinable()) return;
            stopping_ = true;
            sig_->cv.notify_one();
        }
        if (thread_.joinable()) thread_.join();
    }

  private:
    // Moves inbox and aborts into the scheduler; returns false when the engine should exit.
    bool take_inbox(bool idle) {
        bool stopping;
        {
            std::unique_lock<std::mutex> lock(sig_->mu);
            if (idle) {
                sig_->cv.wait_for(lock, std::chrono::milliseconds(cfg_.idle_wake_ms),
                                  [&] { return stopping_ || sig_->space || !inbox_.empty() || !aborts_.empty(); });
                sig_->space = false;
            }
            fresh_.swap(inbox_);
            fresh_aborts_.swap(aborts_);
            stopping = stopping_;
        }
        for (auto& s : fresh_) {
            if (s->grammar) {
                s->gm = std::make_unique<gram::grammar_matcher>(s->grammar, vocab_index());
                std::vector<std::pair<int32_t, std::string>> shown;  // control tokens streamed as text
                for (int32_t id : s->shown_special)
                    if (vocab_index().piece(id).empty()) shown.emplace_back(id, tok_->token_piece(id, true));
                s->gm->show_tokens(std::move(shown));
            }
            sched_->add(std::move(s));
        }
        fresh_.clear();
        for (uint64_t id : fresh_aborts_) sched_->abort(id);
        fresh_aborts_.clear();
        if (stopping) {
            sched_->abort_all(finish_reason::aborted, "the server is shutting down");
            return false;
        }
        return true;
    }

    // The vocabulary as a byte trie, for grammar masks: built at the first request with a grammar.
    const gram::token_index& vocab_index() {
        if (!vocab_index_) vocab_index_ = std::make_unique<gram::token_index>(gram::token_index_from(*tok_));
        return *vocab_index_;
    }

    // Streams what the scheduler accepted and ended since the last call.
    void emit() {
        sched_->take_output(out_);
        stream_output(out_);
    }

    // A sequence whose stream is full waits for its reader (backpressure): it is neither scheduled
    // nor drafted for.
    void refresh_paused() {
        for (const auto& s : sched_->running()) s->paused = s->stream->full();
    }

    void loop() {
        bool idle = false;
        while (true) {
            heartbeat_.store(std::chrono::steady_clock::now().time_since_epoch().count());
            const bool more = take_inbox(idle);
            emit();  // aborted requests end here
            if (!more) break;
            n_waiting_.store(sched_->n_waiting());
            refresh_paused();
            step_plan plan = sched_->schedule();
            // Nothing runnable: either no work, or every stream is full (a reader's pop wakes us).
            idle = plan.empty();
            if (!plan.empty()) {
                try {
                    step(plan);
                } catch (const device_lost& e) {
                    lose_device(e.what());  // the next take_inbox ends the rest and the loop
                }
            }
            publish_metrics();
        }
        publish_metrics();
        if (policy_) {
            const draft_policy::choices& c = policy_->chosen();
            spdlog::info(
                "speculative decoding: anchor step ms by rows as last measured:{}; drafting cost x{:.2f}; "
                "{:.2f} drafts chosen per sequence and round, none in {:.0f}% of {} rounds; recent acceptance {:.2f}",
                cost_points(policy_->costs()), policy_->draft_scale(),
                c.n > 0 ? static_cast<double>(c.n_tokens) / static_cast<double>(c.n) : 0.0,
                c.n > 0 ? 100.0 * static_cast<double>(c.n_none) / static_cast<double>(c.n) : 0.0, c.n,
                policy_->shared_acceptance());
        }
    }

    // The device is gone with the weights and the KV cache on it: every request ends with the error,
    // new ones are refused as at shutdown, the loop ends, and failure() tells the server to exit.
    void lose_device(const std::string& what) {
        spdlog::critical("{}: the compute device was lost; ending every request and stopping the engine", what);
        {
            std::lock_guard<std::mutex> lock(sig_->mu);
            failure_ = what;
            stopping_ = true;
        }
        sched_->abort_all(finish_reason::error, "the compute device was lost: " + what);
        emit();
    }

    static std::string cost_points(const step_costs& c) {
        std::string points;
        for (const auto& [rows, sec] : c.anchor) points += fmt::format(" {}:{:.2f}", rows, sec * 1e3);
        return points;
    }

    void make_drafter() {
        if (spec_ == spec_type::none) return;
        draft_options o;
        o.n_vocab = summary_.n_vocab;
        o.p_min = cfg_.draft_p_min;
        o.max_rows = cfg_.batch_size;
        if (spec_ == spec_type::mtp) {
            if (runner_.mtp()->info().n_vocab != summary_.n_vocab)
                throw error(cfg_.draft_model_path + ": the assistant's vocabulary (" +
                            std::to_string(runner_.mtp()->info().n_vocab) + ") differs from the anchor's (" +
                            std::to_string(summary_.n_vocab) + ")");
            drafter_ = make_mtp_drafter(runner_, kv_, o);
        } else if (spec_ == spec_type::draft) {
            check_same_vocab(*tok_, *draft_file_, summary_.n_vocab, runner_.draft_model()->info().n_vocab);
            drafter_ = make_model_drafter(runner_, kv_, o);
        } else {
            drafter_ = make_ngram_drafter();
        }
        summary_.draft_name =
            spec_ == spec_type::ngram ? "ngram" : std::filesystem::path(cfg_.draft_model_path).filename().string();
        draft_policy_config pc;
        pc.draft_max = cfg_.draft_max;
        pc.draft_min = cfg_.draft_min;
        pc.adaptive = cfg_.draft_adaptive;
        step_costs costs;
        if (cfg_.draft_adaptive) costs = measure_step_costs(runner_, kv_, drafter_.get(), cfg_);
        if (costs.anchor.empty()) costs.anchor.push_back({1, 1.0});
        const std::string points = cost_points(costs);
        spdlog::info(
            "speculative decoding: {} ({}), up to {} drafts per round ({}); anchor step ms by rows:{}; "
            "drafter forward {:.2f} ms + {:.2f} ms per sequence",
            spec_type_name(spec_), summary_.draft_name, cfg_.draft_max,
            cfg_.draft_adaptive ? "length chosen per round" : "fixed", points, costs.draft_b0 * 1e3,
            costs.draft_b1 * 1e3);
        policy_ = std::make_unique<draft_policy>(pc, std::move(costs));
    }

    void step(const step_plan& plan) {
        seqs_.clear();
        for (const sched_item& it : plan.items) seqs_.push_back(&sched_->running(it.seq_id));
        const bool want_hidden = drafter_ && drafter_->needs_hidden();
        const auto t0 = steady_clock::now();
        step_output out;
        try {
            out = runner_.forward(plan, seqs_, kv_, want_hidden);
        } catch (const device_lost&) {
            throw;                           // no step can follow: loop() ends every request
        } catch (const std::exception& e) {  // never expected; fail the step's requests, keep serving
            spdlog::error("forward failed: {}", e.what());
            for (const sched_item& it : plan.items)
                sched_->abort(it.seq_id, finish_reason::error, std::string("the forward pass failed: ") + e.what());
            emit();
            return;
        }
        // Only decode and verification steps teach the policy: prompt rows cost less (no logits).
        const bool all_sample = std::all_of(plan.items.begin(), plan.items.end(), [](const sched_item& it) {
            return it.sample && it.n_new == it.n_draft + 1;
        });
        if (policy_ && all_sample) policy_->observe_anchor_step(plan.n_rows(), seconds_since(t0));
        const size_t nv = static_cast<size_t>(summary_.n_vocab);
        const size_t nh = static_cast<size_t>(runner_.anchor().info().n_embd);
        int64_t n_prompt_tokens = 0, n_generated = 0;
        for (size_t i = 0; i < plan.items.size(); ++i) {
            const sched_item& it = plan.items[i];
            const sequence& s = *seqs_[i];
            const int64_t known_end = it.start + it.n_new - it.n_draft;
            if (it.start < s.n_prompt) n_prompt_tokens += std::min<int64_t>(s.n_prompt, known_end) - it.start;
        }
        auto sample = [&](size_t item, sequence& s, int32_t row) {
            const size_t r = static_cast<size_t>(out.row0[item] + row);
            const std::span<float> lg = out.logits.subspan(r * nv, nv);
            scheduler::sampled t;
            // A sampled draft is accepted by ratio; a greedy one (or none) by drawing and comparing.
            // Structured output: only tokens the grammar allows, before bias, penalties and truncation,
            // so the draw is from the renormalised distribution over them (drafts are verified
            // against the masked distribution too: the matcher has taken the accepted drafts).
            if (s.gm) gram::mask_logits(lg, s.gm->mask());
            const auto draft_row = static_cast<size_t>(row);
            // A reasoning budget's forced token is written instead of sampled (no drafts meanwhile).
            const std::optional<int32_t> forced = s.budget.take_forced();
            t.token = forced ? *forced
                      : s.spec.draft_smp && draft_row < s.spec.draft.size()
                          ? s.smp->sample_draft(lg, s.tokens, s.spec.draft[draft_row], s.spec.draft_q[draft_row])
                          : s.smp->sample(lg, s.tokens);
            if (s.gm && !s.gm->accept(t.token)) s.grammar_stuck = true;
            t.logprob = 0.0f;
            if (s.n_logprobs >= 0) {
                t.top.resize(static_cast<size_t>(std::min(s.n_logprobs, k_max_logprobs)));
                t.logprob = s.smp->logprobs(lg, t.token, t.top);
            }
            if (want_hidden) {  // the MTP drafter's next input: the state that produced this token
                s.spec.hidden.assign(out.hidden.begin() + static_cast<ptrdiff_t>(r * nh),
                                     out.hidden.begin() + static_cast<ptrdiff_t>((r + 1) * nh));
                s.spec.has_hidden = true;
            }
            ++n_generated;
            return t;
        };
        sched_->update(plan, sample);
        emit();
        {
            std::lock_guard<std::mutex> lock(metrics_mu_);
            metrics_.prompt_tokens += n_prompt_tokens;
            metrics_.generated_tokens += n_generated;
        }
        draft_next_round(plan);
    }

    // Chooses each decoding sequence's draft length, reserves its KV slots and drafts.
    void draft_next_round(const step_plan& plan) {
        if (!drafter_) return;
        refresh_paused();  // this step's tokens may have filled a stream
        reqs_.clear();
        int64_t base_rows = 0;
        for (const auto& p : sched_->running()) {
            sequence& s = *p;
            s.spec.draft.clear();  // a draft the last step did not verify (no room) is stale now
            policy_->observe_round(s.spec);
            if (!s.decoding() || s.paused) continue;
            ++base_rows;
            if (s.spec.retired || s.budget.forcing()) continue;  // forced tokens need no drafts
            const int64_t k = std::min<int64_t>(cfg_.draft_max, sched_->draft_room(s));
            if (k > 0) reqs_.push_back({&s, static_cast<int32_t>(k)});
        }
        for (const sched_item& it : plan.items) {  // prompt rows of this step: those of the next, roughly
            if (!it.sample) base_rows += it.n_new;
        }
        policy_->choose(reqs_, base_rows);
        // A draft model writes K/V at its drafts' positions while drafting: their slots first.
        const bool writes_kv = spec_ == spec_type::draft;
        std::erase_if(reqs_, [&](const draft_request& r) {
            return r.k == 0 || (writes_kv && !kv_.allocate_slots(static_cast<int64_t>(r.seq->id),
                                                                 static_cast<int64_t>(r.seq->tokens.size()) + r.k));
        });
        const auto t0 = steady_clock::now();
        drafter_->propose(reqs_, sched_->running());
        policy_->observe_draft_round(reqs_, seconds_since(t0));
        for (const draft_request& r : reqs_) {
            if (r.seq->gm) cut_draft_to_grammar(*r.seq);
            if (static_cast<int32_t>(r.seq->spec.draft.size()) < cfg_.draft_min) r.seq->spec.draft.clear();
        }
    }

    // Drops the drafts from the first one the grammar does not allow (it could never be accepted), and
    // those after the text is complete: a copy of the matcher walks along the draft.
    static void cut_draft_to_grammar(sequence& s) {
        gram::grammar_matcher walk = *s.gm;
        std::vector<int32_t>& draft = s.spec.draft;
        size_t keep = 0;
        while (keep < draft.size() && !walk.done() && walk.accept(draft[keep])) ++keep;
        draft.resize(keep);
    }

    void publish_metrics() {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        const kv_cache_stats ks = kv_.stats();
        metrics_.n_running = sched_->n_running();
        metrics_.n_waiting = sched_->n_waiting();
        metrics_.kv_blocks_used = ks.n_blocks_used;
        metrics_.kv_blocks_total = ks.n_blocks_total;
        metrics_.prefix_cache_hit_tokens = sched_->prefix_hit_tokens();
        metrics_.preemptions = sched_->n_preemptions();
        const spec_counters& sp = sched_->spec();
        metrics_.spec_drafts = sp.n_drafts;
        metrics_.spec_draft_tokens = sp.n_draft_tokens;
        metrics_.spec_accepted_tokens = sp.n_accepted;
        if (drafter_) metrics_.spec_accepted_per_pos.assign(sp.accepted_at, sp.accepted_at + cfg_.draft_max);
    }

    engine_config cfg_;
    std::unique_ptr<gguf::file> file_, draft_file_;
    spec_type spec_;
    std::unique_ptr<tokenizer> tok_;
    std::unique_ptr<text_codec> codec_;
    runner runner_;
    kv_cache_manager kv_;
    model_summary summary_;
    std::unique_ptr<scheduler> sched_;
    std::unique_ptr<drafter> drafter_;
    std::unique_ptr<draft_policy> policy_;
    std::vector<sequence*> seqs_;      // the current plan's sequences, item by item
    std::vector<draft_request> reqs_;  // this round's drafting sequences
    sched_output out_;                 // the last emitted output (its buffers are reused)

    // The engine thread's wake-up: shared with the request streams (which may outlive the engine)
    // through weak pointers. mu guards the inbox, aborts, stopping_, failure_ and space.
    struct wake_signal {
        std::mutex mu;
        std::condition_variable cv;
        bool space = false;  // a reader made room in a full stream
    };
    std::shared_ptr<wake_signal> sig_ = std::make_shared<wake_signal>();
    std::vector<std::unique_ptr<sequence>> inbox_;
    std::vector<uint64_t> aborts_;
    std::vector<std::unique_ptr<sequence>> fresh_;  // engine thread: the inbox just taken
    std::vector<uint64_t> fresh_aborts_;
    std::unique_ptr<gram::token_index> vocab_index_;  // engine thread
    bool stopping_ = false;
    std::optional<std::string> failure_;  // why the engine stopped on its own (a lost device)
    uint64_t next_id_ = 1;
    std::atomic<int64_t> n_waiting_{0};
    std::atomic<std::chrono::steady_clock::rep> heartbeat_{std::chrono::steady_clock::now().time_since_epoch().count()};

    mutable std::mutex metrics_mu_;
    engine_metrics metrics_;
    std::thread thread_;
};

}  // namespace

std::unique_ptr<engine> engine::create(const engine_config& cfg) {
    return std::make_unique<engine_impl>(cfg);
}

}  // namespace tandem
