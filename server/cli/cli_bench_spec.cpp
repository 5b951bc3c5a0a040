// `tandem bench -m ANCHOR -md DRAFTER` (or --spec-type ngram): speculative decoding against plain
// decoding on the same files in the same run, through the engine as the server drives it: N greedy
// streams of G tokens each, for every N of --np and every draft length of --draft-max (the engine
// picks each round's length up to it, unless --draft-adaptive false). Tokens/s are the engine's own times.
#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "engine/engine.h"
#include "server/cli/bench_spec.h"
#include "server/cli/bench_streams.h"

namespace tandem {
namespace {

struct outcome {
    double tok_s = 0;
    int64_t drafted = 0, accepted = 0;
    bool lockstep = true;  // every stream's first token came from the same step
};

// All streams submitted at once, on a fresh engine; the rate is every token after each stream's first
// over the span from the earliest first token to the latest last one (prefill is not counted).
outcome run_once(const engine_config& cfg, int32_t n_streams, int32_t n_gen) {
    std::unique_ptr<engine> eng = engine::create(cfg);
    const std::vector<int32_t> prompt =
        eng->codec().encode("Once upon a time, in a land far away, there lived", true, false);
    std::vector<std::vector<int32_t>> prompts;
    for (int32_t i = 0; i < n_streams; ++i) {
        prompts.push_back(prompt);
        prompts.back().push_back(i % 7 + 100);  // different prompts, a shared prefix
    }
    const streams_timing t = time_streams(*eng, std::move(prompts), n_gen);
    const engine_metrics m = eng->metrics();
    eng->shutdown();
    return {t.tok_s(), m.spec_draft_tokens, m.spec_accepted_tokens, t.lockstep};
}

}  // namespace

void bench_spec(const spec_bench_options& o) {
    engine_config base;
    base.model_path = o.model;
    base.n_threads = o.threads;
    base.device = o.device;
    base.kv_type = o.kv_type;
    base.parallel = *std::max_element(o.streams.begin(), o.streams.end());
    base.stream_capacity = o.n_gen + 1;
    engine_config spec = base;
    spec.draft_model_path = o.draft_model;
    spec.spec = o.spec;
    spec.draft_adaptive = !o.fixed;
    std::printf(
        "speculative decoding on %s: anchor %s, drafter %s, %d greedy tokens per stream, best of %d; "
        "speed-up: median (range) over the %d rounds of the ratio to the plain run of the same round\n",
        o.device.c_str(), o.model.c_str(), o.draft_model.empty() ? "n-gram" : o.draft_model.c_str(), o.n_gen, o.reps,
        o.reps);
    std::printf("%-22s", "");
    for (int32_t n : o.streams) std::printf("  %-40s", (std::to_string(n) + (n == 1 ? " stream" : " streams")).c_str());
    std::printf("\n");
    // Each round runs plain and every draft length for one stream count, so the machine's drift
    // (several percent over a minute here) hits the runs a ratio compares alike; odd rounds run them
    // in reverse order, as a run right after another ran 1-3% slower here (plain against plain).
    const size_t n_k = o.draft_max.size(), n_np = o.streams.size();
    std::vector<std::vector<outcome>> plain(n_np), runs(n_k * n_np);
    for (size_t j = 0; j < n_np; ++j) {
        const int32_t n = o.streams[j];
        for (int r = 0; r < o.reps; ++r) {
            for (size_t step = 0; step <= n_k; ++step) {
                const size_t at = r % 2 == 0 ? step : n_k - step;  // 0: plain; i + 1: draft_max[i]
                if (at == 0) {
                    plain[j].push_back(in_lockstep([&] { return run_once(base, n, o.n_gen); }, n));
                    continue;
                }
                spec.draft_max = o.draft_max[at - 1];
                runs[(at - 1) * n_np + j].push_back(in_lockstep([&] { return run_once(spec, n, o.n_gen); }, n));
            }
        }
    }
    auto best = [](const std::vector<outcome>& v) {
        return *std::max_element(v.begin(), v.end(),
                                 [](const outcome& a, const outcome& b) { return a.tok_s < b.tok_s; });
    };
    std::printf("%-22s", "plain");
    for (size_t j = 0; j < n_np; ++j) std::printf("  %8.2f tok/s%27s", best(plain[j]).tok_s, "");
    std::printf("\n");
    for (size_t i = 0; i < n_k; ++i) {
        std::printf("%-22s", ((o.fixed ? "k = " : "k <= ") + std::to_string(o.draft_max[i])).c_str());
        for (size_t j = 0; j < n_np; ++j) {
            const std::vector<outcome>& v = runs[i * n_np + j];
            std::vector<double> ratio;
            int64_t drafted = 0, accepted = 0;
            for (size_t r = 0; r < v.size(); ++r) {
                ratio.push_back(v[r].tok_s / plain[j][r].tok_s);
                drafted += v[r].drafted;
                accepted += v[r].accepted;
            }
            const auto [lo, hi] = std::minmax_element(ratio.begin(), ratio.end());
            std::printf("  %8.2f tok/s %5.2fx (%4.2f-%4.2f) ", best(v).tok_s, median(ratio), *lo, *hi);
            if (drafted > 0)
                std::printf("acc %3.0f%%", 100.0 * static_cast<double>(accepted) / static_cast<double>(drafted));
            else
                std::printf("no drafts");
        }
        std::printf("\n");
    }
}

}  // namespace tandem
