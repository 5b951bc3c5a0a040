// Decode attention benchmark: one query (a GQA group) per KV head over a paged cache of ctx
// positions, for every head of every layer, reading the cache in place against gathering it to f32
// first. Prints the time of one pass (every KV row read once) and the KV bytes read per second. The
// cache spans at least --mib MiB (default 128, more than the L3 cache, as a long context of a real
// model does; a few MiB measure the arithmetic alone).
// Usage: bench_attention [--threads N] [--types f16,q8_0,q4_0] [--ctx 512,2048,8192] [--head-dim 64]
//                        [--group 1,4] [--mib 128]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/timing.h"
#include "kernels/attention.h"
#include "kernels/dispatch.h"
#include "kernels/thread_pool.h"

namespace {

using namespace tandem;

constexpr int32_t k_block_size = 16, k_kv_heads = 8;

struct cache {
    kv_group_view kv;
    std::vector<uint8_t> pool;
    std::vector<int32_t> table;
    int32_t n_layers = 0;
};

cache make_cache(dtype t, int32_t ctx, int32_t hd, size_t min_bytes, std::mt19937& rng) {
    cache c;
    c.kv.block_size = k_block_size;
    c.kv.n_kv_heads = k_kv_heads;
    c.kv.head_dim = hd;
    c.kv.type = t;
    c.kv.row_bytes = dtype_row_bytes(t, hd);
    c.kv.part_bytes = static_cast<size_t>(k_block_size * k_kv_heads) * c.kv.row_bytes;
    const size_t per_layer = 2 * c.kv.part_bytes * static_cast<size_t>(ctx / k_block_size);
    c.n_layers = static_cast<int32_t>(std::max<size_t>(1, (min_bytes + per_layer - 1) / per_layer));
    c.kv.block_bytes = 2 * static_cast<size_t>(c.n_layers) * c.kv.part_bytes;
    c.pool.resize(c.kv.block_bytes * static_cast<size_t>(ctx / k_block_size));
    c.kv.base = c.pool.data();
    for (int32_t b = 0; b < ctx / k_block_size; ++b) c.table.push_back(b);
    std::normal_distribution<float> nd;
    std::vector<float> k(static_cast<size_t>(k_kv_heads * hd)), v = k;
    for (int32_t layer = 0; layer < c.n_layers; ++layer) {
        for (int32_t pos = 0; pos < ctx; ++pos) {
            for (float& x : k) x = nd(rng);
            for (float& x : v) x = nd(rng);
            kv_write_token(c.kv, layer, c.table.data(), pos, k.data(), v.data());
        }
    }
    return c;
}

// Seconds for one pass over every (layer, head), best of several: in place or through an f32 gather.
double time_pass(const cache& c, int32_t ctx, int32_t n_group, bool in_place, thread_pool& pool) {
    const int64_t hd = c.kv.head_dim, n_items = static_cast<int64_t>(c.n_layers) * k_kv_heads;
    std::vector<float> q(static_cast<size_t>(n_items * n_group * hd), 0.1f), out(q.size());
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    auto pass = [&] {
        pool.parallel_for(n_items, 1, [&](int64_t lo, int64_t hi) {
            thread_local attn_scratch scratch;
            thread_local std::vector<float> keys, values;
            for (int64_t i = lo; i < hi; ++i) {
                attn_query aq;
                aq.q = q.data() + i * n_group * hd;
                aq.out = out.data() + i * n_group * hd;
                aq.n_group = n_group;
                aq.k_begin = 0;
                aq.k_end = ctx;
                const auto layer = static_cast<int32_t>(i / k_kv_heads), head = static_cast<int32_t>(i % k_kv_heads);
                if (in_place) {
                    attention_paged(c.kv, layer, c.table.data(), head, std::span(&aq, 1), scale, scratch);
                } else {
                    const size_t need = static_cast<size_t>(ctx * hd);
                    if (keys.size() < need) keys.resize(need), values.resize(need);
                    if (scratch.scores.size() < static_cast<size_t>(n_group * ctx))
                        scratch.scores.resize(static_cast<size_t>(n_group * ctx));
                    kv_gather(c.kv, layer, c.table.data(), head, 0, ctx, keys.data(), values.data());
                    attention_gathered(keys.data(), values.data(), 0, hd, aq, scale, scratch.scores.data());
                }
            }
        });
    };
    pass();  // warm-up
    double best = 1e30;
    const auto start = steady_clock::now();
    for (int i = 0; i < 3 || (i < 50 && seconds_since(start) < 1.0); ++i) {
        const auto t0 = steady_clock::now();
        pass();
        best = std::min(best, seconds_since(t0));  // the machine is shared: interference only adds time
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    int n_threads = 2;
    int32_t hd = 64;
    size_t mib = 128;
    std::vector<std::string> types{"f16", "q8_0", "q4_0"};
    std::vector<int32_t> ctxs{512, 2048, 8192}, groups{1, 4};
    CLI::App app("Decode attention over a paged KV cache: in place against gathered to f32");
    app.add_option("--threads", n_threads, "Threads")->check(CLI::Range(1, 1024));
    app.add_option("--types", types, "KV types")->delimiter(',')->check(CLI::IsMember({"f16", "q8_0", "q4_0"}));
    app.add_option("--ctx", ctxs, "Context lengths (rounded down to whole blocks)")
        ->delimiter(',')
        ->check(CLI::Range(16, 1 << 20));
    app.add_option("--head-dim", hd, "Head dimension")->check(CLI::Range(8, 1024));
    app.add_option("--group", groups, "Query heads per KV head")->delimiter(',')->check(CLI::Range(1, 64));
    app.add_option("--mib", mib, "Least size of the cache in MiB")->check(CLI::Range(1, 1 << 16));
    CLI11_PARSE(app, argc, argv);
    thread_pool pool(n_threads);
    std::printf("cpu level %s, %d threads, head_dim %d, %d KV heads per layer\n", cpu_level_name(cpu_level_active()),
                n_threads, hd, k_kv_heads);
    std::printf("type   ctx    group | layers | gathered ms | in place ms | speed-up | in place GB/s of KV\n");
    std::mt19937 rng(7);
    for (const std::string& name : types) {
        const auto t = dtype_from_name(name);
        if (!t) {
            std::fprintf(stderr, "unknown type %s\n", name.c_str());
            return 1;
        }
        for (const int32_t want_ctx : ctxs) {
            const int32_t ctx = want_ctx / k_block_size * k_block_size;
            const cache c = make_cache(*t, ctx, hd, mib << 20, rng);
            const double kv_bytes = static_cast<double>(c.kv.block_bytes) * (ctx / k_block_size);
            for (const int32_t g : groups) {
                const double gathered = time_pass(c, ctx, g, false, pool), in_place = time_pass(c, ctx, g, true, pool);
                std::printf("%-5s %6d %6d | %6d | %11.3f | %11.3f | %7.2fx | %8.1f\n", name.c_str(), ctx, g, c.n_layers,
                            gathered * 1e3, in_place * 1e3, gathered / in_place, kv_bytes / in_place / 1e9);
                std::fflush(stdout);
            }
        }
    }
    return 0;
}
