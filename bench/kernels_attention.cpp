// Attention benchmark over a paged cache of ctx positions, for every head of every layer: R query
// rows per KV head (a GQA group each) at the last R positions, causal, as one attention_paged call,
// as a decode step (R = 1), a verification (R = 2-8) or a prompt chunk (R = 32, the CPU backend's
// chunk) does. Prints the time of one pass, the KV bytes read per second (each row read once per
// call) and the (query head, key) pairs per second. The cache spans at least --mib MiB (default 128,
// more than the L3 cache, as a long context of a real model does; a few MiB measure the arithmetic).
// Usage: bench_attention [--threads N] [--types f16,q8_0,q4_0] [--ctx 512,2048,8192] [--head-dim 64]
//                        [--group 1,4] [--rows 1,32] [--mib 128]
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

// Seconds for one pass over every (layer, head), best of several.
double time_pass(const cache& c, int32_t ctx, int32_t n_group, int32_t n_rows, thread_pool& pool) {
    const int64_t hd = c.kv.head_dim, n_items = static_cast<int64_t>(c.n_layers) * k_kv_heads;
    const int64_t width = n_rows * n_group * hd;
    std::vector<float> q(static_cast<size_t>(n_items * width), 0.1f), out(q.size());
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    auto pass = [&] {
        pool.parallel_for(n_items, 1, [&](int64_t lo, int64_t hi) {
            thread_local attn_scratch scratch;
            thread_local std::vector<attn_query> queries;
            for (int64_t i = lo; i < hi; ++i) {
                queries.assign(static_cast<size_t>(n_rows), attn_query{});
                for (int32_t r = 0; r < n_rows; ++r) {
                    attn_query& aq = queries[static_cast<size_t>(r)];
                    aq.q = q.data() + i * width + r * n_group * hd;
                    aq.out = out.data() + i * width + r * n_group * hd;
                    aq.n_group = n_group;
                    aq.k_end = ctx - n_rows + r + 1;
                }
                const auto layer = static_cast<int32_t>(i / k_kv_heads), head = static_cast<int32_t>(i % k_kv_heads);
                attention_paged(c.kv, layer, c.table.data(), head, queries, scale, scratch);
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
    std::vector<int32_t> ctxs{512, 2048, 8192}, groups{1, 4}, rows{1, 32};
    CLI::App app("Attention over a paged KV cache: R causal query rows per KV head");
    app.add_option("--threads", n_threads, "Threads")->check(CLI::Range(1, 1024));
    app.add_option("--types", types, "KV types")->delimiter(',')->check(CLI::IsMember({"f16", "q8_0", "q4_0"}));
    app.add_option("--ctx", ctxs, "Context lengths (rounded down to whole blocks)")
        ->delimiter(',')
        ->check(CLI::Range(16, 1 << 20));
    app.add_option("--head-dim", hd, "Head dimension")->check(CLI::Range(8, 1024));
    app.add_option("--group", groups, "Query heads per KV head")->delimiter(',')->check(CLI::Range(1, 64));
    app.add_option("--rows", rows, "Query rows per KV head and call")->delimiter(',')->check(CLI::Range(1, 4096));
    app.add_option("--mib", mib, "Least size of the cache in MiB")->check(CLI::Range(1, 1 << 16));
    CLI11_PARSE(app, argc, argv);
    thread_pool pool(n_threads);
    std::printf("cpu level %s, %d threads, head_dim %d, %d KV heads per layer\n", cpu_level_name(cpu_level_active()),
                n_threads, hd, k_kv_heads);
    std::printf("type    ctx group  rows | layers |    pass ms | GB/s of KV | G pairs/s\n");
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
                for (const int32_t r : rows) {
                    if (r > ctx) continue;
                    const double sec = time_pass(c, ctx, g, r, pool);
                    // Row i of R sees ctx - R + i + 1 keys.
                    const double pairs = static_cast<double>(c.n_layers) * k_kv_heads * g *
                                         (static_cast<double>(r) * (ctx - r) + r * (r + 1) / 2.0);
                    std::printf("%-5s %6d %5d %5d | %6d | %10.3f | %10.1f | %9.2f\n", name.c_str(), ctx, g, r,
                                c.n_layers, sec * 1e3, kv_bytes / sec / 1e9, pairs / sec / 1e9);
                    std::fflush(stdout);
                }
            }
        }
    }
    return 0;
}
