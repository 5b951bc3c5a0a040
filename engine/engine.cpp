// engine_impl: the engine thread. Each step it takes new requests and aborts from the inbox,
// asks the scheduler for work, runs one batched forward, samples, and streams the tokens.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "common/error.h"
#include "engine/runner.h"
#include "engine/sample/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace tandem {
namespace {

class engine_impl final : public engine {
  public:
    explicit engine_impl(const engine_config& cfg)
        : cfg_(cfg), file_(gguf::file::open(cfg.model_path)), tok_(tokenizer::from_gguf(*file_)), runner_(cfg, *file_) {
        const model_info& mi = runner_.mdl().info();
        summary_.architecture = mi.arch;
        summary_.name = mi.name;
        summary_.n_vocab = mi.n_vocab;
        summary_.n_ctx = cfg.ctx_size > 0 ? cfg.ctx_size : mi.n_ctx_train;
        summary_.chat_template = std::string(file_->get_string("tokenizer.chat_template").value_or(""));
        if (tok_->n_vocab() > mi.n_vocab) {
            throw error(cfg.model_path + ": tokenizer has " + std::to_string(tok_->n_vocab()) +
                        " tokens but the model only " + std::to_string(mi.n_vocab));
        }
        sched_config sc;
        sc.max_running = cfg.parallel;
        sc.token_budget = cfg.step_token_budget;
        sc.mixed_prefill_budget = cfg.mixed_prefill_tokens;
        sc.ctx_size = summary_.n_ctx;
        sc.is_eog = [this](int32_t id) { return tok_->is_eog(id); };
        sched_ = std::make_unique<scheduler>(sc, runner_.kv());
        metrics_.kv_blocks_total = runner_.kv_blocks_total();
        spdlog::info(
            "model {} ({}): {} layers, vocab {}, context {} per sequence; KV cache {} blocks x {} tokens "
            "in {:.1f} MiB reserved ({}), touched only as it fills",
            summary_.name, mi.arch, mi.n_layer, mi.n_vocab, summary_.n_ctx, runner_.kv_blocks_total(),
            cfg.kv_block_size, static_cast<double>(runner_.kv_bytes()) / (1 << 20), dtype_info_of(cfg.kv_type).name);
        thread_ = std::thread([this] { loop(); });
    }

    ~engine_impl() override { shutdown(); }

    const tokenizer& tok() const override { return *tok_; }
    const model_summary& summary() const override { return summary_; }

    submit_result submit(completion_params params) override {
        submit_result r;
        if (static_cast<int64_t>(params.prompt.size()) >= summary_.n_ctx) {
            r.err = submit_error::context_exceeded;
            r.message = "prompt has " + std::to_string(params.prompt.size()) + " tokens; the context holds " +
                        std::to_string(summary_.n_ctx);
            return r;
        }
        if (params.max_tokens == 0 || params.max_tokens < -1) {
            r.err = submit_error::invalid;
            r.message = "max_tokens must be -1 or at least 1, got " + std::to_string(params.max_tokens);
            return r;
        }
        for (int32_t t : params.prompt) {
            if (t < 0 || t >= summary_.n_vocab) {
                r.err = submit_error::invalid;
                r.message = "token id " + std::to_string(t) + " is out of range";
                return r;
            }
        }
        std::lock_guard<std::mutex> lock(sig_->mu);
        if (stopping_) {
            r.err = submit_error::stopping;
            r.message = "the server is shutting down";
            return r;
        }
        if (n_waiting_.load() + static_cast<int64_t>(inbox_.size()) >= cfg_.max_queue) {
            r.err = submit_error::queue_full;
            r.message = "too many requests are waiting";
            return r;
        }
        auto seq = std::make_unique<sequence>();
        seq->id = next_id_++;
        seq->n_prompt = static_cast<int32_t>(params.prompt.size());
        seq->tokens = std::move(params.prompt);
        seq->max_tokens = params.max_tokens;
        seq->n_logprobs = params.n_logprobs;
        seq->ignore_eos = params.ignore_eos;
        seq->smp = std::make_unique<sampler>(params.sampling, summary_.n_vocab);
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

    engine_metrics metrics() const override {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        return metrics_;
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
        std::unique_lock<std::mutex> lock(sig_->mu);
        if (idle) {
            sig_->cv.wait_for(lock, std::chrono::milliseconds(cfg_.idle_wake_ms),
                              [&] { return stopping_ || sig_->space || !inbox_.empty() || !aborts_.empty(); });
            sig_->space = false;
        }
        for (auto& s : inbox_) sched_->add(std::move(s));
        inbox_.clear();
        for (uint64_t id : aborts_) sched_->abort(id);
        aborts_.clear();
        if (stopping_) {
            sched_->abort_all(finish_reason::aborted, "the server is shutting down");
            return false;
        }
        return true;
    }

    void loop() {
        bool idle = false;
        while (take_inbox(idle)) {
            n_waiting_.store(sched_->n_waiting());
            step_plan plan = sched_->schedule();
            // Nothing runnable: either no work, or every stream is full (a reader's pop wakes us).
            idle = plan.empty();
            if (!plan.empty()) step(plan);
            publish_metrics();
        }
        publish_metrics();
    }

    void step(const step_plan& plan) {
        std::span<float> logits;
        try {
            logits = runner_.forward(plan);
        } catch (const std::exception& e) {  // never expected; fail the step's requests, keep serving
            spdlog::error("forward failed: {}", e.what());
            for (const sched_item& it : plan.items) sched_->abort(it.seq->id);
            return;
        }
        const int64_t nv = summary_.n_vocab;
        sampled_.clear();
        size_t row = 0;
        int64_t n_prompt_tokens = 0;
        for (const sched_item& it : plan.items) {
            if (it.start < it.seq->n_prompt) {
                n_prompt_tokens += std::min<int64_t>(it.seq->n_prompt, it.start + it.n_new) - it.start;
            }
            if (!it.sample) continue;
            std::span<float> lg = logits.subspan(row++ * static_cast<size_t>(nv), static_cast<size_t>(nv));
            scheduler::sampled s;
            s.token = it.seq->smp->sample(lg, it.seq->tokens);
            s.logprob = 0.0f;
            if (it.seq->n_logprobs >= 0) {
                const size_t n_top = static_cast<size_t>(std::min(it.seq->n_logprobs, k_max_logprobs));
                s.top.resize(n_top);
                s.logprob = it.seq->smp->logprobs(lg, s.token, s.top);
            }
            sampled_.push_back(std::move(s));
        }
        {
            std::lock_guard<std::mutex> lock(metrics_mu_);
            metrics_.prompt_tokens += n_prompt_tokens;
            metrics_.generated_tokens += static_cast<int64_t>(sampled_.size());
        }
        sched_->update(plan, sampled_);
    }

    void publish_metrics() {
        std::lock_guard<std::mutex> lock(metrics_mu_);
        metrics_.n_running = sched_->n_running();
        metrics_.n_waiting = sched_->n_waiting();
        metrics_.kv_blocks_used = runner_.kv_blocks_used();
        metrics_.kv_blocks_total = runner_.kv_blocks_total();
        metrics_.prefix_cache_hit_tokens = sched_->prefix_hit_tokens();
        metrics_.preemptions = sched_->n_preemptions();
    }

    engine_config cfg_;
    std::unique_ptr<gguf::file> file_;
    std::unique_ptr<tokenizer> tok_;
    runner runner_;
    model_summary summary_;
    std::unique_ptr<scheduler> sched_;
    std::vector<scheduler::sampled> sampled_;

    // The engine thread's wake-up: shared with the request streams (which may outlive the engine)
    // through weak pointers. mu guards the inbox, aborts, stopping_ and space.
    struct wake_signal {
        std::mutex mu;
        std::condition_variable cv;
        bool space = false;  // a reader made room in a full stream
    };
    std::shared_ptr<wake_signal> sig_ = std::make_shared<wake_signal>();
    std::vector<std::unique_ptr<sequence>> inbox_;
    std::vector<uint64_t> aborts_;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    std::atomic<int64_t> n_waiting_{0};

    mutable std::mutex metrics_mu_;
    engine_metrics metrics_;
    std::thread thread_;
};

}  // namespace

std::unique_ptr<engine> engine::create(const engine_config& cfg) {
    return std::make_unique<engine_impl>(cfg);
}

}  // namespace tandem
