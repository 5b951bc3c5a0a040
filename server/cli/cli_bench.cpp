// `tandem bench -m FILE`: prompt (pp) and generation (tg) tokens/s like llama-bench, and the
// throughput of N parallel streams, through the engine as the server drives it (tokens/s from the
// engine's own times). Step cost measured on the runner itself, memory bandwidth and the decode
// bound: bench/bench_steps.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "engine/engine.h"
#include "server/cli/bench_spec.h"
#include "server/cli/bench_streams.h"
#include "server/cli/commands.h"

namespace tandem {
namespace {

struct bench_options {
    std::string model, draft_model, spec_type;
    std::vector<int32_t> draft_max{1, 2, 3, 4};
    std::vector<int32_t> streams;  // empty: 1,2,4,8,16 (speculative mode: 1,4)
    bool draft_adaptive = true;
    int32_t threads = 0, n_prompt = 512, n_gen = 128, reps = 3, ctx = 128, steps = 16;
    std::string kv_type = "f16", device = "cpu";
};

constexpr int32_t k_tg_prompt = 8;  // prompt tokens before tg's generation

// The engine and the prompts: token ids drawn uniformly from the vocabulary, so that no two prompts
// share a KV block and no request is a prefix cache hit, in a rep or between reps.
struct bench_rig {
    std::unique_ptr<engine> eng;
    std::mt19937 rng{42};

    std::vector<int32_t> prompt(int32_t n) {
        const auto n_vocab = static_cast<uint32_t>(eng->summary().n_vocab);
        std::vector<int32_t> ids;
        for (int32_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(rng() % n_vocab));
        return ids;
    }
    std::vector<std::vector<int32_t>> prompts(int32_t n, int32_t len) {
        std::vector<std::vector<int32_t>> v;
        for (int32_t i = 0; i < n; ++i) v.push_back(prompt(len));
        return v;
    }
};

// Median over reps of the n-stream decode step: n streams submitted together, each with a prompt of
// o.ctx tokens, prefill in one step, then decode o.steps - 1 tokens each in steps of n rows.
double median_step(bench_rig& rig, const bench_options& o, int32_t n) {
    auto run = [&] { return time_streams(*rig.eng, rig.prompts(n, o.ctx), o.steps); };
    std::vector<double> steps;
    for (int rep = 0; rep < o.reps; ++rep) steps.push_back(in_lockstep(run, n).step);
    return median(steps);
}

int32_t blocks_for(int32_t n_tokens, int32_t block_size) {
    return (n_tokens + block_size - 1) / block_size;
}

engine_config bench_config(const bench_options& o) {
    const int32_t max_n = *std::max_element(o.streams.begin(), o.streams.end());
    engine_config ec;
    ec.model_path = o.model;
    ec.n_threads = o.threads;
    ec.device = o.device;
    ec.kv_type = cli_kv_type(o.kv_type);
    ec.parallel = max_n;
    ec.ctx_size = std::max({o.n_prompt, k_tg_prompt + o.n_gen, o.ctx + o.steps}) + 1;
    // Every prompt in one step: pp's, and the n streams' together.
    ec.batch_size = std::max(o.n_prompt, max_n * o.ctx);
    ec.prefill_chunk = 0;
    ec.stream_capacity = std::max(o.n_gen, o.steps) + 2;  // never full: no request is paused
    // The most the bench holds at once, and a block per stream to spare: the warm-up touches them
    // all, and later requests evict the prefix cache of earlier ones.
    const int32_t bs = ec.kv_block_size;
    ec.kv_blocks = std::max({blocks_for(o.n_prompt + 1, bs), blocks_for(k_tg_prompt + o.n_gen, bs),
                             max_n * blocks_for(o.ctx + o.steps, bs)}) +
                   max_n;
    return ec;
}

void bench(const bench_options& o) {
    bench_rig rig;
    rig.eng = engine::create(bench_config(o));
    const model_summary& info = rig.eng->summary();
    std::printf("model: %s (%s, vocab %d, %.1f MiB file)\n", o.model.c_str(), info.architecture.c_str(), info.n_vocab,
                static_cast<double>(std::filesystem::file_size(o.model)) / (1 << 20));
    const int32_t n_threads = o.threads > 0 ? o.threads : static_cast<int32_t>(std::thread::hardware_concurrency());
    std::printf("device: %s, threads: %d, kv: %s, median of %d rep%s\n", o.device.c_str(), n_threads, o.kv_type.c_str(),
                o.reps, o.reps == 1 ? "" : "s");

    // Untimed: the KV pool commits its pages on first write, and the runner grows its buffers to
    // the largest step; neither should land in a timed request.
    wait_done(*submit_greedy(*rig.eng, rig.prompt(o.n_prompt), 1));
    time_streams(*rig.eng, rig.prompts(*std::max_element(o.streams.begin(), o.streams.end()), o.ctx), o.steps);

    std::vector<double> pp, tg;
    for (int rep = 0; rep < o.reps; ++rep) {
        pp.push_back(o.n_prompt / wait_done(*submit_greedy(*rig.eng, rig.prompt(o.n_prompt), 1)).first_token_seconds);
        tg.push_back((o.n_gen - 1) /
                     wait_done(*submit_greedy(*rig.eng, rig.prompt(k_tg_prompt), o.n_gen)).generation_seconds);
    }
    std::printf("pp%d: %.1f tok/s\ntg%d: %.2f tok/s\n", o.n_prompt, median(pp), o.n_gen, median(tg));
    std::fflush(stdout);

    std::printf(
        "N streams (parallel requests of %d random prompt tokens, %d generated tokens each; a decode step "
        "has one row per stream):\n",
        o.ctx, o.steps);
    double unit = 0;
    for (int32_t n : o.streams) {
        const double ms = median_step(rig, o, n) * 1e3;
        if (unit == 0) unit = ms;
        std::printf("  streams %2d: %8.2f ms/step  %8.1f tok/s  cost %.2fx %d stream%s\n", n, ms, n * 1e3 / ms,
                    ms / unit, o.streams.front(), o.streams.front() == 1 ? "" : "s");
        std::fflush(stdout);
    }
    rig.eng->shutdown();
}

}  // namespace

void cli_add_bench(CLI::App& app) {
    auto* cmd = app.add_subcommand("bench", "Measure prompt and generation speed and the throughput of N streams");
    auto o = std::make_shared<bench_options>();
    cmd->add_option("-m,--model", o->model, "GGUF model file")->required();
    cmd->add_option("-t,--threads", o->threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);
    cmd->add_option("--device", o->device, "Compute device: cpu, vulkan or vulkan:N (see `tandem devices`)")
        ->check(device_check());
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (pp)")->check(CLI::PositiveNumber);
    cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens (tg; speculative mode: per stream)")
        ->check(CLI::Range(2, 1 << 20));
    cmd->add_option("-r,--reps", o->reps, "Repetitions (plain: the median is printed; speculative: the best)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--np,--parallel", o->streams,
                    "Parallel streams to measure (default 1,2,4,8,16; speculative mode: 1,4)")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    cmd->add_option("--ctx", o->ctx, "Prompt tokens of each of the N streams")->check(CLI::PositiveNumber);
    cmd->add_option("--steps", o->steps,
                    "Tokens each of the N streams generates (the first comes with its prompt's prefill)")
        ->check(CLI::Range(2, 1 << 20));
    cmd->add_option("--kv-type", o->kv_type, "KV cache type: f16, q8_0 or q4_0");
    cmd->add_option("--draft-model", o->draft_model,
                    "Speculative mode (-md): plain against speculative decoding with this drafter");
    cmd->add_option("--spec-type", o->spec_type, "Speculative mode: auto, mtp, draft or ngram");
    cmd->add_option("--draft-max", o->draft_max, "Speculative mode: draft lengths to measure")
        ->delimiter(',')
        ->check(CLI::Range(1, k_max_draft));
    cmd->add_option("--draft-adaptive", o->draft_adaptive,
                    "Speculative mode: choose each round's draft length (false: always --draft-max)");
    cmd->callback([o] {
        const bool speculative = !o->draft_model.empty() || !o->spec_type.empty();
        if (o->streams.empty())
            o->streams = speculative ? std::vector<int32_t>{1, 4} : std::vector<int32_t>{1, 2, 4, 8, 16};
        if (!speculative) return bench(*o);
        spec_bench_options s;
        s.model = o->model;
        s.draft_model = o->draft_model;
        const std::optional<spec_type> t = spec_type_from_name(o->spec_type.empty() ? "auto" : o->spec_type);
        if (!t || *t == spec_type::none) throw error("--spec-type: expected auto, mtp, draft or ngram");
        s.spec = *t;
        s.threads = o->threads;
        s.device = o->device;
        s.n_gen = o->n_gen;
        s.reps = o->reps;
        s.kv_type = cli_kv_type(o->kv_type);
        s.draft_max = o->draft_max;
        s.streams = o->streams;
        s.fixed = !o->draft_adaptive;
        bench_spec(s);
    });
}

}  // namespace tandem
