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

// Throwaway sequences with KV slots for k_context + 1 + extra tokens each, freed on destruction.
struct throwaways {
    kv_cache_manager& kv;
    int32_t n_vocab, n_embd, extra;
    std::vector<std::unique_ptr<sequence>> seqs;

    bool add() {  // false, with nothing added, when the KV cache has no room
        const uint64_t id = k_first_id + seqs.size();
        if (!kv.allocate_slots(static_cast<int64_t>(id), k_context + 1 + extra)) return false;
        seqs.push_back(throwaway(id, n_vocab, n_embd));
        return true;
    }
    ~throwaways() {
        for (const auto& s : seqs) kv.free_seq(static_cast<int64_t>(s->id));
    }
};

// A step of R rows is measured in the shape steps have: R sequences of one row while R is at most
// the sequences there are (plain decoding), else all of them sharing the rows (verification).
// Spread over sequences, rows cost more than in one sequence (attention work items, per-sequence
// overheads), so one sequence's R rows would make drafting look cheaper than it is. Each row count
// is timed once per sweep, sweeps interleaved and in alternating order, and the fastest kept: on a
// noisy machine a point measured in one burst can be off by 50%, and noise only ever adds time. The
// first sweep warms the caches.
void measure_anchor(runner& r, kv_cache_manager& kv, throwaways& t, int32_t r_max, step_costs& c) {
    std::vector<int32_t> counts;
    // Every count up to 8: the kernels take rows in tiles, so 5 rows cost far more than 4 and 8 little
    // more than 5, which no interpolation between sparse points would show.
    for (int32_t rows : {1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32}) {
        if (rows <= r_max) counts.push_back(rows);
    }
    const int32_t n_seqs = static_cast<int32_t>(t.seqs.size());
    constexpr int k_sweeps = 5;
    std::vector<double> best(counts.size(), std::numeric_limits<double>::max());
    std::vector<sequence*> batch;
    for (int sweep = 0; sweep <= k_sweeps; ++sweep) {
        for (size_t o = 0; o < counts.size(); ++o) {
            const size_t i = sweep % 2 == 0 ? o : counts.size() - 1 - o;
            const int32_t rows = counts[i], n = std::min(rows, n_seqs);
            step_plan plan;
            batch.clear();
            for (int32_t j = 0; j < n; ++j) {
                sequence* s = t.seqs[static_cast<size_t>(j)].get();
                const int32_t mine = rows / n + (j < rows % n ? 1 : 0);
                s->spec.draft.assign(static_cast<size_t>(mine - 1), 0);
                plan.items.push_back({s->id, k_context, mine, mine - 1, true});
                batch.push_back(s);
            }
            const auto t0 = steady_clock::now();
            r.forward(plan, batch, kv, false);
            if (sweep > 0) best[i] = std::min(best[i], seconds_since(t0));
        }
    }
    for (size_t i = 0; i < counts.size(); ++i) c.anchor.push_back({counts[i], best[i]});
    for (const auto& s : t.seqs) s->spec.draft.clear();
}

// The drafter: draft_max forwards for one sequence, then for several at once; b0 + b1 * sequences.
void measure_drafter(drafter& d, throwaways& t, int32_t draft_max, step_costs& c) {
    const int32_t n_many = std::min<int32_t>(4, static_cast<int32_t>(t.seqs.size()));
    double per_forward[2] = {0, 0};
    const int32_t counts[2] = {1, n_many};
    for (int i = 0; i < 2; ++i) {
        std::vector<draft_request> reqs;
        for (int32_t j = 0; j < counts[i]; ++j) reqs.push_back({t.seqs[static_cast<size_t>(j)].get(), draft_max});
        per_forward[i] = best_of(3,
                                 [&] {
                                     for (const draft_request& q : reqs) {
                                         q.seq->spec.draft.clear();
                                         q.seq->spec.n_draft_kv = k_context;
                                     }
                                     d.propose(reqs, {});
                                 }) /
                         draft_max;
    }
    c.draft_b1 = n_many > 1 ? std::max(0.0, (per_forward[1] - per_forward[0]) / (n_many - 1)) : 0.0;
    c.draft_b0 = std::max(0.0, per_forward[0] - c.draft_b1);
}

}  // namespace

step_costs measure_step_costs(runner& r, kv_cache_manager& kv, drafter* d, const engine_config& cfg) {
    const model_info& mi = r.anchor().info();
    const int32_t r_max = std::max(1, std::min({cfg.parallel * (1 + cfg.draft_max), 32, cfg.batch_size}));
    throwaways t{kv, mi.n_vocab, mi.n_embd, std::max(r_max, cfg.draft_max), {}};
    while (static_cast<int32_t>(t.seqs.size()) < std::min(cfg.parallel, r_max) && t.add()) {
    }
    step_costs c;
    if (t.seqs.empty()) {  // no KV room to measure: every draft must pay for a whole step
        c.anchor.push_back({1, 1.0});
        return c;
    }
    measure_anchor(r, kv, t, r_max, c);
    if (d) measure_drafter(*d, t, cfg.draft_max, c);
    return c;
}

}  // namespace tandem
