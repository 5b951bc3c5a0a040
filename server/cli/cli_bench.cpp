// `tandem bench -m FILE`: prompt (pp) and generation (tg) tokens/s like llama-bench, the cost
// of decode steps of 1..16 rows (one row per sequence, as continuous batching runs them), and the
// machine's memory bandwidth measured in the same run, with the fraction of the decode bound.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/timing.h"
#include "engine/runner.h"
#include "kernels/dispatch.h"
#include "kernels/membw.h"
#include "server/cli/bench_spec.h"
#include "server/cli/commands.h"

namespace tandem {
namespace {

struct bench_options {
    std::string model, draft_model, spec_type;
    std::vector<int32_t> draft_max{1, 2, 3, 4}, streams{1, 4};
    bool draft_adaptive = true;
    int32_t threads = 0, n_prompt = 512, n_gen = 128, reps = 3, ctx_rows = 128, steps = 16;
    std::string kv_type = "f16";
    std::vector<int32_t> rows{1, 2, 4, 8, 16};  // row counts of the timed decode steps
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// The triad's arrays: 256 MiB each. It runs several times through the bench, since the machine's
// bandwidth varies by 2x from one second to the next.
constexpr int64_t k_triad_floats = (256ll << 20) / 4;

struct bench_rig {
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
    // One step in which sequences [0, n_seqs) each compute n_new random tokens.
    double step(int32_t n_seqs, int32_t n_new) {
        step_plan plan;
        std::vector<sequence*> ss;
        for (int32_t i = 0; i < n_seqs; ++i) {
            sequence& s = seq(static_cast<size_t>(i));
            for (int32_t k = 0; k < n_new; ++k) s.tokens.push_back(static_cast<int32_t>(rng() % n_vocab));
            if (!kv->allocate_slots(static_cast<int64_t>(s.id), static_cast<int64_t>(s.tokens.size()))) {
                throw error("bench: the KV cache is too small; raise --kv-memory");
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
};

void bench(const bench_options& o) {
    engine_config ec;
    ec.model_path = o.model;
    ec.n_threads = o.threads;
    ec.kv_type = cli_kv_type(o.kv_type);
    ec.kv_budget_bytes = 4ll << 30;
    bench_rig rig;
    rig.file = gguf::file::open(o.model);
    rig.run = std::make_unique<runner>(ec, spec_type::none, *rig.file, nullptr);
    rig.kv = std::make_unique<kv_cache_manager>(rig.run->kv_config());
    rig.n_vocab = rig.run->anchor().info().n_vocab;
    size_t weight_bytes = 0;
    for (const gguf::tensor_info& t : rig.file->tensors()) weight_bytes += t.n_bytes;
    thread_pool& pool = rig.run->pool();  // the triad runs on the model's own threads
    std::printf("model: %s (%s, %.1f MiB of tensors)\nthreads: %d, cpu: %s, kv: %s\n", o.model.c_str(),
                rig.run->anchor().info().arch.c_str(), static_cast<double>(weight_bytes) / (1 << 20), pool.size(),
                cpu_level_name(cpu_level_active()), o.kv_type.c_str());

    std::vector<double> bandwidth{triad_gbps(pool, k_triad_floats, 5)};
    std::vector<double> pp, tg;
    for (int rep = 0; rep < o.reps; ++rep) {
        rig.reset();
        pp.push_back(o.n_prompt / rig.step(1, o.n_prompt));
        rig.reset();
        double total = 0;
        for (int32_t k = 0; k < o.n_gen; ++k) total += rig.step(1, 1);
        tg.push_back(o.n_gen / total);
    }
    std::printf("pp%d: %.1f tok/s\ntg%d: %.2f tok/s\n", o.n_prompt, median(pp), o.n_gen, median(tg));

    bandwidth.push_back(triad_gbps(pool, k_triad_floats, 5));
    std::printf("decode step with N rows (one per sequence, %d tokens of context each):\n", o.ctx_rows);
    double one_row = 0;
    for (int32_t n : o.rows) {
        rig.reset();
        rig.step(n, o.ctx_rows);
        std::vector<double> times;
        for (int k = 0; k < o.steps; ++k) times.push_back(rig.step(n, 1));
        const double ms = median(times) * 1e3;
        if (one_row == 0) one_row = ms;
        std::printf("  rows %2d: %8.2f ms/step  %8.1f tok/s  cost %.2fx %d row%s\n", n, ms, n * 1e3 / ms, ms / one_row,
                    o.rows.front(), o.rows.front() == 1 ? "" : "s");
    }
    rig.reset();
    bandwidth.push_back(triad_gbps(pool, k_triad_floats, 5));
    const double gbps = *std::max_element(bandwidth.begin(), bandwidth.end());
    const double bound = gbps * 1e9 / static_cast<double>(weight_bytes);
    std::printf("memory bandwidth (triad, 256 MiB, best of 3 times in the run: %.1f / %.1f / %.1f GB/s): %.1f GB/s\n",
                bandwidth[0], bandwidth[1], bandwidth[2], gbps);
    std::printf("decode bound %.1f tok/s (every weight byte read once per token); tg is %.0f%% of it\n", bound,
                100.0 * median(tg) / bound);
}

}  // namespace

void cli_add_bench(CLI::App& app) {
    auto* cmd = app.add_subcommand("bench", "Measure prompt and generation speed and small-batch step cost");
    auto o = std::make_shared<bench_options>();
    cmd->add_option("-m,--model", o->model, "GGUF model file")->required();
    cmd->add_option("-t,--threads", o->threads, "Compute threads (0: one per core)");
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (pp)")->check(CLI::PositiveNumber);
    cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens (tg)")->check(CLI::PositiveNumber);
    cmd->add_option("-r,--reps", o->reps, "Repetitions (the median is printed)")->check(CLI::PositiveNumber);
    cmd->add_option("--ctx", o->ctx_rows, "Context tokens of each sequence before the timed decode steps")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--steps", o->steps, "Timed decode steps per row count (the median is printed)")
        ->check(CLI::PositiveNumber);
    cmd->add_option("--kv-type", o->kv_type, "KV cache type: f16, q8_0 or q4_0");
    cmd->add_option("--rows", o->rows, "Row counts of the timed decode steps (the first is the cost's unit)")
        ->delimiter(',')
        ->check(CLI::Range(1, 4096));
    cmd->add_option("--draft-model", o->draft_model,
                    "Speculative mode (-md): plain against speculative decoding with this drafter");
    cmd->add_option("--spec-type", o->spec_type, "Speculative mode: auto, mtp, draft or ngram");
    cmd->add_option("--draft-max", o->draft_max, "Speculative mode: draft lengths to measure")
        ->delimiter(',')
        ->check(CLI::Range(1, k_max_draft));
    cmd->add_option("--np", o->streams, "Speculative mode: parallel streams to measure")
        ->delimiter(',')
        ->check(CLI::Range(1, 256));
    cmd->add_option("--draft-adaptive", o->draft_adaptive,
                    "Speculative mode: choose each round's draft length (false: always --draft-max)");
    cmd->callback([o] {
        if (o->draft_model.empty() && o->spec_type.empty()) return bench(*o);
        spec_bench_options s;
        s.model = o->model;
        s.draft_model = o->draft_model;
        const std::optional<spec_type> t = spec_type_from_name(o->spec_type.empty() ? "auto" : o->spec_type);
        if (!t || *t == spec_type::none) throw error("--spec-type: expected auto, mtp, draft or ngram");
        s.spec = *t;
        s.threads = o->threads;
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
