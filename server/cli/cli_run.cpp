// `tandem run`: one prompt through the engine (the same scheduler the server uses); the
// continuation streams to stdout as text, timings go to stderr.
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "common/error.h"
#include "common/timing.h"
#include "engine/engine.h"
#include "server/cli/commands.h"

namespace tandem {
namespace {

struct run_options {
    std::string model, prompt, kv_type = "f16", draft_model, spec_type = "auto", device = "cpu";
    int32_t draft_max = 3, draft_min = 0;
    float draft_p_min = 0.0f;
    bool draft_adaptive = true;
    int32_t n_predict = 128, threads = 0, ctx_size = 0;
    float temp = 0.8f, top_p = 1.0f, min_p = 0.0f;
    int32_t top_k = 0;
    uint64_t seed = 0;
    bool seed_given = false;  // --seed was on the command line
    bool ignore_eos = false;
};

void run(const run_options& o) {
    engine_config ec;
    ec.model_path = o.model;
    ec.n_threads = o.threads;
    ec.device = o.device;
    ec.ctx_size = o.ctx_size;
    ec.parallel = 1;
    ec.max_queue = 1;
    ec.kv_type = cli_kv_type(o.kv_type);
    ec.draft_model_path = o.draft_model;
    const std::optional<spec_type> st = spec_type_from_name(o.spec_type);
    if (!st) throw error("--spec-type: expected auto, none, mtp, draft or ngram, got '" + o.spec_type + "'");
    ec.spec = *st;
    ec.draft_max = o.draft_max;
    ec.draft_min = o.draft_min;
    ec.draft_p_min = o.draft_p_min;
    ec.draft_adaptive = o.draft_adaptive;
    const auto t_load = steady_clock::now();
    std::unique_ptr<engine> eng = engine::create(ec);
    const double load_s = seconds_since(t_load);

    completion_params p;
    p.prompt = eng->codec().encode(o.prompt, true, false);
    p.max_tokens = o.n_predict;
    p.ignore_eos = o.ignore_eos;
    p.sampling.temperature = o.temp;
    p.sampling.top_k = o.top_k;
    p.sampling.top_p = o.top_p;
    p.sampling.min_p = o.min_p;
    p.sampling.seed = o.seed;
    p.seed_fixed = o.seed_given;
    const size_t n_prompt = p.prompt.size();
    std::mutex mu;
    std::condition_variable cv;
    submit_result r = eng->submit(std::move(p));
    if (!r.stream) throw error(r.refusal->message);
    r.stream->set_notify([&] {
        std::lock_guard<std::mutex> lock(mu);
        cv.notify_one();
    });
    stream_event end;
    for (bool done = false; !done;) {
        std::optional<stream_event> ev;
        {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return (ev = r.stream->pop()).has_value(); });
        }
        if (!ev) continue;
        if (ev->what == stream_event::kind::done && ev->reason == finish_reason::error) throw error(ev->error);
        std::fputs(ev->text.c_str(), stdout);
        std::fflush(stdout);
        if (ev->what == stream_event::kind::done) {
            end = std::move(*ev);
            done = true;
        }
    }
    std::fputs("\n", stdout);
    // The engine's own times: this thread may drain a burst of tokens long after they were made.
    const double ttft = end.first_token_seconds, gen_s = end.generation_seconds;
    std::fprintf(stderr, "load %.2f s | prompt %zu tokens, ", load_s, n_prompt);
    if (end.n_generated == 0)
        std::fprintf(stderr, "no tokens generated");
    else
        std::fprintf(stderr, "first token after %.1f ms (%.1f tok/s) | generated %d tokens, %.1f tok/s", ttft * 1e3,
                     ttft > 0 ? static_cast<double>(n_prompt) / ttft : 0.0, end.n_generated,
                     end.n_generated > 1 && gen_s > 0 ? (end.n_generated - 1) / gen_s : 0.0);
    if (eng->summary().spec != spec_type::none) {
        std::fprintf(stderr, " | drafts: %d tokens, %d accepted (%.0f%%)", end.n_draft_tokens, end.n_draft_accepted,
                     end.n_draft_tokens > 0 ? 100.0 * end.n_draft_accepted / end.n_draft_tokens : 0.0);
    }
    std::fprintf(stderr, " | finish: %s\n", end.reason == finish_reason::length ? "length" : "stop");
    eng->shutdown();
}

}  // namespace

dtype cli_kv_type(const std::string& name) {
    const auto kv = kv_type_from_name(name);
    if (!kv) throw error("--kv-type: expected f16, q8_0 or q4_0, got '" + name + "'");
    return *kv;
}

void cli_add_run(CLI::App& app) {
    auto* cmd = app.add_subcommand("run", "Generate a continuation of a prompt");
    auto o = std::make_shared<run_options>();
    cmd->add_option("-m,--model", o->model, "GGUF model file")->required();
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text")->required();
    cmd->add_option("-n,--n-predict", o->n_predict, "Tokens to generate (-1: until the context ends)")
        ->check(CLI::Validator(
            [](const std::string& v) {
                int n = 0;
                const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
                const bool ok = ec == std::errc() && end == v.data() + v.size() && (n == -1 || n >= 1);
                return ok ? std::string() : "expected -1 or a count of at least 1, got '" + v + "'";
            },
            "-1|N>=1"));
    cmd->add_option("--temp", o->temp, "Temperature (0: greedy)")->check(CLI::Range(0.0f, 100.0f));
    cmd->add_option("--top-k", o->top_k, "Top-k (0: off)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--top-p", o->top_p, "Top-p (1: off)")->check(CLI::Range(0.0f, 1.0f));
    cmd->add_option("--min-p", o->min_p, "Min-p (0: off)")->check(CLI::Range(0.0f, 1.0f));
    cmd->add_option("--seed", o->seed, "Sampling seed");
    cmd->add_option("--kv-type", o->kv_type, "KV cache type: f16, q8_0 or q4_0");
    cmd->add_option("-t,--threads", o->threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--device", o->device, "Compute device: cpu, vulkan or vulkan:N (see `tandem devices`)")
        ->check(device_check());
    cmd->add_option("-c,--ctx-size", o->ctx_size, "Context size (0: the model's)")->check(CLI::NonNegativeNumber);
    cmd->add_flag("--ignore-eos", o->ignore_eos, "Keep generating past end-of-generation tokens");
    cmd->add_option("--draft-model", o->draft_model,
                    "Drafter GGUF (-md): a gemma4-assistant (MTP) or a smaller model with the same vocabulary");
    cmd->add_option("--spec-type", o->spec_type, "Speculative decoding: auto, none, mtp, draft or ngram");
    cmd->add_option("--draft-max", o->draft_max, "Drafts per round at most")->check(CLI::Range(1, k_max_draft));
    cmd->add_option("--draft-min", o->draft_min, "A shorter draft is dropped")->check(CLI::Range(0, k_max_draft));
    cmd->add_option("--draft-p-min", o->draft_p_min, "A drafter stops below this probability")
        ->check(CLI::Range(0.0f, 1.0f));
    cmd->add_option("--draft-adaptive", o->draft_adaptive,
                    "Choose each round's draft length from measured costs (false: always --draft-max)");
    cmd->callback([o, cmd] {
        o->seed_given = cmd->count("--seed") > 0;
        run(*o);
    });
}

}  // namespace tandem
