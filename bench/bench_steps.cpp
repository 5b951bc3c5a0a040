// Decode steps measured on the runner itself, without the engine around it: the cost of a step of
// 1..16 rows (one row per sequence, as continuous batching runs them; or, with --one-sequence, N
// tokens of one sequence, as a verification or a prompt chunk runs them), and the machine's memory
// bandwidth in the same run, with the decode bound (every weight byte read once per step; of a token
// table beside a separate output head, only the step's rows). For float weights (F32 / F16 / BF16),
// also the prompt bound: a prompt token's multiply-adds at the FMA peak of all threads together.
// Usage: bench_steps -m FILE [-t N] [--kv-type f16] [--ctx 128] [--steps 16] [--rows 1,2,4,8,16]
//                    [--one-sequence] [--prompt 512]
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/timing.h"
#include "engine/runner.h"
#include "kernels/dispatch.h"
#include "kernels/fma_peak.h"
#include "kernels/membw.h"

namespace {

using namespace tandem;

struct steps_options {
    std::string model, kv_type = "f16";
    int32_t threads = 0, ctx = 128, steps = 16, prompt = 512;
    std::vector<int32_t> rows{1, 2, 4, 8, 16};  // row counts of the timed decode steps
    bool one_sequence = false;                  // a step's rows are tokens of one sequence, not one per sequence
};

// The triad's arrays: 256 MiB each. It runs several times through the bench, since the machine's
// bandwidth varies by 2x from one second to the next.
constexpr int64_t k_triad_floats = (256ll << 20) / 4;

// Floating-point operations per token of an n_prompt-token prompt, when every layer weight (blk.*,
// two dimensions) is F32, F16 or BF16: two per weight, and the attention's q.k and p.v over the
// prompt's causal keys (half the prompt on average), from the query width of attn_q; 0 otherwise
// (other types run int8 dot products, not FMAs). The output head is left out: a prompt computes
// logits for its last token only, on both sides of peer_bench.
double prompt_flops_per_token(const gguf::file& f, int32_t n_layer, int32_t n_prompt) {
    double flops = 0;
    int64_t q_width = 0;
    for (const gguf::tensor_info& t : f.tensors()) {
        if (!t.name.starts_with("blk.") || t.n_dims != 2) continue;
        if (t.type != dtype::f32 && t.type != dtype::f16 && t.type != dtype::bf16) return 0;
        flops += 2.0 * static_cast<double>(t.n_elements);
        if (t.name == "blk.0.attn_q.weight") q_width = t.ne[1];
    }
    return flops + 4.0 * static_cast<double>(q_width) * (n_prompt + 1) / 2.0 * n_layer;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// Sequences with hand-built step plans over the runner and a KV cache of their own.
struct steps_rig {
    std::unique_ptr<gguf::file> file;
    std::unique_ptr<runner> run;
    std::unique_ptr<kv_cache_manager> kv;
    std::vector<std::unique_ptr<sequence>> seqs;
    std::mt19937 rng{42};
    int32_t n_vocab = 0;

    sequence& seq(size_t i) {
        while (seqs.size() <= i) {
            seqs.push_back(std::make_unique<sequence>());
            seqs.back()->id = seqs.size();
        }
        return *seqs[i];
    }
    void reset() {
        for (auto& s : seqs) {
            kv->free_seq(static_cast<int64_t>(s->id));
            s->tokens.clear();
            s->n_computed = 0;
        }
    }
    // One step in which sequences [0, n_seqs) each compute n_new random tokens; its seconds.
    double step(int32_t n_seqs, int32_t n_new) {
        step_plan plan;
        std::vector<sequence*> ss;
        for (int32_t i = 0; i < n_seqs; ++i) {
            sequence& s = seq(static_cast<size_t>(i));
            for (int32_t k = 0; k < n_new; ++k) s.tokens.push_back(static_cast<int32_t>(rng() % n_vocab));
            if (!kv->allocate_slots(static_cast<int64_t>(s.id), static_cast<int64_t>(s.tokens.size()))) {
                throw error("bench_steps: the KV cache is too small");  // sized for the run: a bug
            }
            plan.items.push_back({s.id, s.n_computed, n_new, 0, true});
            ss.push_back(&s);
        }
        const auto t = steady_clock::now();
        run->forward(plan, ss, *kv, false);
        const double dt = seconds_since(t);
        for (sequence* s : ss) s->n_computed = static_cast<int64_t>(s->tokens.size());
        return dt;
    }
    // A step in which sequence 0 computes n_new random tokens after its context, which it then keeps:
    // every such step sees the same context and rewrites the same KV slots (llama-bench -p N -d CTX's
    // work: one row of logits).
    double chunk(int32_t n_new) {
        sequence& s = seq(0);
        const int64_t ctx = s.n_computed;
        s.tokens.resize(static_cast<size_t>(ctx));
        const double dt = step(1, n_new);
        s.n_computed = ctx;
        return dt;
    }
};

void bench_steps(const steps_options& o) {
    const std::optional<dtype> kv_type = kv_type_from_name(o.kv_type);
    if (!kv_type) throw error("--kv-type: expected f16, q8_0 or q4_0, got '" + o.kv_type + "'");
    engine_config ec;
    ec.model_path = o.model;
    ec.n_threads = o.threads;
    ec.kv_type = *kv_type;
    const int32_t max_rows = *std::max_element(o.rows.begin(), o.rows.end());
    ec.kv_blocks = max_rows * ((o.ctx + o.steps + ec.kv_block_size - 1) / ec.kv_block_size);
    steps_rig rig;
    rig.file = gguf::file::open(o.model);
    rig.run = std::make_unique<runner>(ec, spec_type::none, *rig.file, nullptr);
    rig.kv = std::make_unique<kv_cache_manager>(rig.run->kv_config());
    rig.n_vocab = rig.run->anchor().info().n_vocab;
    // A step reads every weight once, except the token table when a separate output head exists: then
    // only the step's own rows of it.
    const bool own_head = rig.file->find_tensor("output.weight") != nullptr;
    size_t weight_bytes = 0;
    for (const gguf::tensor_info& t : rig.file->tensors())
        if (!(own_head && t.name == "token_embd.weight")) weight_bytes += t.n_bytes;
    thread_pool& pool = rig.run->pool();  // the triad runs on the model's own threads
    std::printf("model: %s (%s, %.1f MiB of tensors a step reads)\nthreads: %d, cpu: %s, kv: %s\n", o.model.c_str(),
                rig.run->anchor().info().arch.c_str(), static_cast<double>(weight_bytes) / (1 << 20), pool.size(),
                cpu_level_name(cpu_level_active()), o.kv_type.c_str());

    std::vector<double> bandwidth{triad_gbps(pool, k_triad_floats, 5)};
    if (o.one_sequence) {
        std::printf(
            "step of N tokens of one sequence after %d tokens of context (logits of the last; median of %d "
            "steps):\n",
            o.ctx, o.steps);
    } else {
        std::printf("decode step with N rows (one per sequence, %d tokens of context each, median of %d steps):\n",
                    o.ctx, o.steps);
    }
    std::vector<double> step_ms;
    for (size_t i = 0; i < o.rows.size(); ++i) {
        if (i == o.rows.size() / 2) bandwidth.push_back(triad_gbps(pool, k_triad_floats, 5));
        const int32_t n = o.rows[i];
        rig.reset();
        rig.step(o.one_sequence ? 1 : n, o.ctx);
        std::vector<double> times;
        for (int k = 0; k < o.steps; ++k) times.push_back(o.one_sequence ? rig.chunk(n) : rig.step(n, 1));
        const double ms = median(times) * 1e3;
        step_ms.push_back(ms);
        std::printf("  rows %2d: %8.2f ms/step  %8.1f tok/s  cost %.2fx %d row%s\n", n, ms, n * 1e3 / ms,
                    ms / step_ms.front(), o.rows.front(), o.rows.front() == 1 ? "" : "s");
        std::fflush(stdout);
    }
    rig.reset();
    bandwidth.push_back(triad_gbps(pool, k_triad_floats, 5));
    const double gbps = *std::max_element(bandwidth.begin(), bandwidth.end());
    std::printf("memory bandwidth (triad, 256 MiB, best of 3 times in the run: %.1f / %.1f / %.1f GB/s): %.1f GB/s\n",
                bandwidth[0], bandwidth[1], bandwidth[2], gbps);
    const double bound_ms = static_cast<double>(weight_bytes) / (gbps * 1e9) * 1e3;
    std::printf(
        "decode bound %.1f tok/s (every weight byte read once per step: %.3f ms); the %d-row step runs at "
        "%.0f%% of it\n",
        1e3 / bound_ms, bound_ms, o.rows.front(), 100.0 * bound_ms / step_ms.front());
    const double flops = prompt_flops_per_token(*rig.file, rig.run->anchor().info().n_layer, o.prompt);
    if (flops > 0) {
        const double gflops = fma_peak_gflops(pool, 5);
        std::printf(
            "prompt bound %.1f tok/s (a %d-token prompt: %.2f GFLOP a token at the FMA peak of %d threads "
            "together, %.1f GFLOP/s)\n",
            gflops * 1e9 / flops, o.prompt, flops / 1e9, pool.size(), gflops);
    }
}

}  // namespace

int main(int argc, char** argv) {
    // Logs go to stderr: stdout carries only the figures.
    spdlog::set_default_logger(spdlog::stderr_color_mt("bench_steps"));
    steps_options o;
    CLI::App app("Decode step cost by row count on the runner, memory bandwidth and the decode bound");
    app.add_option("-m,--model", o.model, "GGUF model file")->required();
    app.add_option("-t,--threads", o.threads, "Compute threads (0: one per core)")->check(CLI::NonNegativeNumber);
    app.add_option("--kv-type", o.kv_type, "KV cache type: f16, q8_0 or q4_0");
    app.add_option("--ctx", o.ctx, "Context tokens of each sequence before the timed decode steps")
        ->check(CLI::PositiveNumber);
    app.add_option("--steps", o.steps, "Timed decode steps per row count (the median is printed)")
        ->check(CLI::PositiveNumber);
    app.add_option("--rows", o.rows, "Row counts of the timed decode steps (the first is the cost's unit)")
        ->delimiter(',')
        ->check(CLI::Range(1, 4096));
    app.add_flag("--one-sequence", o.one_sequence,
                 "A step's N rows are N tokens of one sequence (a verification's or a prompt chunk's rows: "
                 "llama-bench -p N -d CTX), not one row each of N sequences");
    app.add_option("--prompt", o.prompt, "Prompt tokens of the prompt bound (float weights)")
        ->check(CLI::PositiveNumber);
    CLI11_PARSE(app, argc, argv);
    try {
        bench_steps(o);
    } catch (const tandem::error& e) {
        std::fprintf(stderr, "bench_steps: %s\n", e.what());
        return 1;
    }
    return 0;
}
