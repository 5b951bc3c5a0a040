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
    base.kv_type = o.kv_type;
    base.parallel = *std::max_element(o.streams.begin(), o.streams.end());
    base.stream_capacity = o.n_gen + 1;
    engine_config spec = base;
    spec.draft_model_path = o.draft_model;
    spec.spec = o.spec;
    spec.draft_adaptive = !o.fixed;
    std::printf("speculative decoding: anchor %s, drafter %s, %d greedy tokens per stream, best of %d\n",
                o.model.c_str(), o.draft_model.empty() ? "n-gram" : o.draft_model.c_str(), o.n_gen, o.reps);
    std::printf("%-22s", "");
    for (int32_t n : o.streams) std::printf("  %-30s", (std::to_string(n) + (n == 1 ? " stream" : " streams")).c_str());
    std::printf("\n");
    auto best = [&](const engine_config& c, int32_t n) {
        outcome b;
        for (int r = 0; r < o.reps; ++r) {
            const outcome x = in_lockstep([&] { return run_once(c, n, o.n_gen); }, n);
            if (x.tok_s > b.tok_s) b = x;
        }
        return b;
    };
    // Plain and speculative runs of one stream count interleave, so a machine's drift hits both.
    std::vector<double> plain(o.streams.size());
    std::vector<std::vector<outcome>> rows(o.draft_max.size(), std::vector<outcome>(o.streams.size()));
    for (size_t j = 0; j < o.streams.size(); ++j) {
        plain[j] = best(base, o.streams[j]).tok_s;
        for (size_t i = 0; i < o.draft_max.size(); ++i) {
            spec.draft_max = o.draft_max[i];
            rows[i][j] = best(spec, o.streams[j]);
        }
    }
    std::printf("%-22s", "plain");
    for (double t : plain) std::printf("  %8.2f tok/s%17s", t, "");
    std::printf("\n");
    for (size_t i = 0; i < o.draft_max.size(); ++i) {
        std::printf("%-22s", ((o.fixed ? "k = " : "k <= ") + std::to_string(o.draft_max[i])).c_str());
        for (size_t j = 0; j < o.streams.size(); ++j) {
            const outcome& x = rows[i][j];
            std::printf("  %8.2f tok/s %5.2fx acc %3.0f%%", x.tok_s, x.tok_s / plain[j],
                        x.drafted > 0 ? 100.0 * x.accepted / x.drafted : 0.0);
        }
        std::printf("\n");
    }
}

}  // namespace tandem
