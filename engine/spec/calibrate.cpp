// Measures the step costs the draft policy weighs: anchor steps of 1 .. R rows (every row with
// logits, as a verification has) and drafter forwards of 1 and several sequences, on throwaway
// sequences whose KV blocks are freed afterwards. Runs once at engine start, before any request.
#include <algorithm>
#include <limits>

#include "common/timing.h"
#include "engine/kv/kv_cache_manager.h"
#include "engine/runner.h"
#include "engine/spec/calibrate.h"

namespace tandem {
namespace {

constexpr uint64_t k_first_id = uint64_t{1} << 62;  // above any request's id
constexpr int32_t k_context = 16;                   // tokens each throwaway sequence pretends to have

std::unique_ptr<sequence> throwaway(uint64_t id, int32_t n_vocab, int32_t n_embd) {
    auto s = std::make_unique<sequence>();
    s->id = id;
    for (int32_t i = 0; i <= k_context; ++i) s->tokens.push_back(static_cast<int32_t>((id + 7919u * i) % n_vocab));
    s->n_prompt = k_context + 1;
    s->n_computed = k_context;
    s->spec.hidden.assign(static_cast<size_t>(n_embd), 0.0f);
    s->spec.has_hidden = true;
    s->spec.draft_kv = true;
    s->spec.n_draft_kv = k_context;
    return s;
}

double best_of(int n, const std::function<void()>& f) {
    double best = std::numeric_limits<double>::max();
    for (int i = 0; i < n; ++i) {
        const auto t0 = steady_clock::now();
        f();
        best = std::min(best, seconds_since(t0));
    }
    return best;
}

}  // namespace

step_costs measure_step_costs(runner& r, kv_cache_manager& kv, drafter* d, const engine_config& cfg) {
    const model_info& mi = r.anchor().info();
    step_costs c;
    const int32_t r_max = std::clamp(cfg.parallel * (1 + cfg.draft_max), 2, std::min(32, cfg.batch_size));
    std::vector<std::unique_ptr<sequence>> seqs;
    auto make = [&](int32_t extra) {
        const uint64_t id = k_first_id + seqs.size();
        seqs.push_back(throwaway(id, mi.n_vocab, mi.n_embd));
        return kv.allocate_slots(static_cast<int64_t>(id), k_context + 1 + extra);
    };
    if (make(r_max)) {
        // Each row count is timed once per sweep, sweeps interleaved, and the median kept: on a noisy
        // machine a point measured in one burst can be off by 50%. The first sweep warms the caches.
        sequence* s = seqs[0].get();
        sequence* const one[] = {s};
        std::vector<int32_t> counts;
        for (int32_t rows : {1, 2, 3, 4, 6, 8, 12, 16, 24, 32}) {
            if (rows <= r_max) counts.push_back(rows);
        }
        constexpr int k_sweeps = 5;
        std::vector<std::vector<double>> times(counts.size());
        for (int sweep = 0; sweep <= k_sweeps; ++sweep) {
            for (size_t i = 0; i < counts.size(); ++i) {
                const int32_t rows = counts[i];
                s->spec.draft.assign(static_cast<size_t>(rows - 1), 0);
                step_plan plan;
                plan.items = {{s->id, k_context, rows, rows - 1, true}};
                const auto t0 = steady_clock::now();
                r.forward(plan, one, kv, false);
                if (sweep > 0) times[i].push_back(seconds_since(t0));
            }
        }
        for (size_t i = 0; i < counts.size(); ++i) {
            std::nth_element(times[i].begin(), times[i].begin() + k_sweeps / 2, times[i].end());
            c.anchor.push_back({counts[i], times[i][k_sweeps / 2]});
        }
        s->spec.draft.clear();
    }
    if (c.anchor.empty()) c.anchor.push_back({1, 1.0});  // no KV room to measure: every draft must pay for a step
    // The drafter: draft_max forwards for one sequence, then for several at once.
    if (d) {
        const int32_t n_many = std::clamp(cfg.parallel, 2, 4);
        double per_forward[2] = {0, 0};
        const int32_t counts[2] = {1, n_many};
        for (int i = 0; i < 2; ++i) {
            std::vector<draft_request> reqs;
            for (int32_t j = 0; j < counts[i]; ++j) {
                if (seqs.size() <= static_cast<size_t>(j) && !make(cfg.draft_max)) break;
                reqs.push_back({seqs[static_cast<size_t>(j)].get(), cfg.draft_max});
            }
            per_forward[i] = best_of(2,
                                     [&] {
                                         for (const draft_request& q : reqs) {
                                             q.seq->spec.draft.clear();
                                             q.seq->spec.n_draft_kv = k_context;
                                         }
                                         d->propose(reqs, {});
                                     }) /
                             cfg.draft_max;
        }
        c.draft_b1 = std::max(0.0, (per_forward[1] - per_forward[0]) / (n_many - 1));
        c.draft_b0 = std::max(0.0, per_forward[0] - c.draft_b1);
    }
    for (const auto& s : seqs) kv.free_seq(static_cast<int64_t>(s->id));
    return c;
}

}  // namespace tandem
