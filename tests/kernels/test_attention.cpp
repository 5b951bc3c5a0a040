// Paged attention kernels: the gather reads exactly the rows kv_write_token wrote, through a
// scattered block table, and every level's attention agrees with attention in double precision
// within float rounding (fresh random inputs; TANDEM_TEST_SEED=<n> replays a failure).
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/attention.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

using test::level_guard;
using test::levels;
using test::random_acts;

// Attention in double precision, softmax(scale * q . k) . v for each of the n_group query rows, and
// how far a float kernel may stray from it: a score's rounding grows with s = scale * sum |q_i k_i|
// and moves an output by up to about that times max |v|. Over 200 seeds (outlier channels in q, k
// and v) the float kernels, the scalar reference among them, strayed at most 5.8 eps (1 + max s)
// max |v|; comparing two float kernels with each other at 1e-4 relative failed one seed in 40.
struct exact_attention {
    std::vector<float> out;
    std::vector<double> tol;  // per query row

    exact_attention(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group,
                    float scale)
        : out(static_cast<size_t>(n_group * hd), 0.0f), tol(static_cast<size_t>(n_group), 0.0) {
        std::vector<double> p(static_cast<size_t>(n_keys));
        for (int32_t g = 0; g < n_group; ++g) {
            const float* qg = q + g * hd;
            double top = -INFINITY, sum = 0, s_max = 0, v_max = 0;
            for (int64_t j = 0; j < n_keys; ++j) {
                double dot = 0, mag = 0;
                for (int64_t i = 0; i < hd; ++i) {
                    dot += static_cast<double>(qg[i]) * k[j * hd + i];
                    mag += std::fabs(static_cast<double>(qg[i]) * k[j * hd + i]);
                    v_max = std::max(v_max, std::fabs(static_cast<double>(v[j * hd + i])));
                }
                p[j] = dot * scale;
                top = std::max(top, p[j]);
                s_max = std::max(s_max, mag * scale);
            }
            for (int64_t j = 0; j < n_keys; ++j) sum += p[j] = std::exp(p[j] - top);
            for (int64_t i = 0; i < hd; ++i) {
                double o = 0;
                for (int64_t j = 0; j < n_keys; ++j) o += p[j] / sum * v[j * hd + i];
                out[g * hd + i] = static_cast<float>(o);
            }
            tol[g] = 32 * FLT_EPSILON * (1 + s_max) * v_max;
        }
    }

    // Every element of got (n_group * hd) within its row's tolerance.
    void check(const std::vector<float>& got, int64_t hd) const {
        for (size_t e = 0; e < out.size(); ++e) ASSERT_NEAR(got[e], out[e], tol[e / hd]) << "element " << e;
    }
};

// A KV pool of n_blocks blocks for n_layers layers, filled with random K/V rows for positions
// [0, n_pos) through a block table that scatters them (blocks 3, 0, 4, 1, 6, 2, 5, ... in turn).
struct random_cache {
    kv_group_view kv;
    std::vector<uint8_t> pool;
    std::vector<int32_t> table;
    std::vector<std::vector<float>> ks, vs;  // per (layer, position): n_kv_heads * head_dim, as written
    int32_t n_layers = 0, n_pos = 0;

    random_cache(dtype t, int32_t block_size, int32_t n_kv_heads, int32_t head_dim, int32_t layers, int32_t positions,
                 std::mt19937& rng)
        : n_layers(layers), n_pos(positions) {
        kv.block_size = block_size;
        kv.n_kv_heads = n_kv_heads;
        kv.head_dim = head_dim;
        kv.type = t;
        kv.row_bytes = dtype_row_bytes(t, head_dim);
        kv.part_bytes = static_cast<size_t>(block_size * n_kv_heads) * kv.row_bytes;
        kv.block_bytes = 2 * static_cast<size_t>(n_layers) * kv.part_bytes;
        const int32_t n_blocks = (n_pos + block_size - 1) / block_size + 2;
        pool.assign(kv.block_bytes * static_cast<size_t>(n_blocks), 0xee);
        kv.base = pool.data();
        for (int32_t b = 0; b * block_size < n_pos; ++b) table.push_back((3 + 4 * b) % n_blocks);
        const int64_t width = static_cast<int64_t>(n_kv_heads) * head_dim;
        for (int32_t layer = 0; layer < n_layers; ++layer) {
            for (int32_t pos = 0; pos < n_pos; ++pos) {
                ks.push_back(random_acts(width, rng));
                vs.push_back(random_acts(width, rng));
                kv_write_token(kv, layer, table.data(), pos, ks.back().data(), vs.back().data());
            }
        }
    }
};

TEST(Attention, GatherReadsTheRowsWrittenThroughTheBlockTable) {
    test::seeded_rng rng;
    for (dtype t : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
        SCOPED_TRACE(std::string(dtype_info_of(t).name));
        const random_cache c(t, 4, 3, 64, 2, 11, rng);
        const kv_group_view& kv = c.kv;
        // What a row reads back as: the same type's encoding of what was written.
        std::vector<uint8_t> enc(kv.row_bytes);
        auto round_trip = [&](const float* x) {
            std::vector<float> out(static_cast<size_t>(kv.head_dim));
            quantize_row(t, x, enc.data(), kv.head_dim);
            ref::dequantize_row(t, enc.data(), out.data(), kv.head_dim);
            return out;
        };
        for (int32_t layer = 0; layer < c.n_layers; ++layer) {
            for (int32_t head = 0; head < kv.n_kv_heads; ++head) {
                for (auto [begin, end] : {std::pair{0, c.n_pos}, std::pair{2, 9}, std::pair{5, 6}, std::pair{4, 8}}) {
                    std::vector<float> k(static_cast<size_t>((end - begin) * kv.head_dim), -1.0f), v = k;
                    kv_gather(kv, layer, c.table.data(), head, begin, end, k.data(), v.data());
                    for (int32_t pos = begin; pos < end; ++pos) {
                        const size_t src = static_cast<size_t>(layer * c.n_pos + pos);
                        const std::vector<float> want_k = round_trip(c.ks[src].data() + head * kv.head_dim);
                        const std::vector<float> want_v = round_trip(c.vs[src].data() + head * kv.head_dim);
                        for (int64_t d = 0; d < kv.head_dim; ++d) {
                            const size_t at = static_cast<size_t>((pos - begin) * kv.head_dim + d);
                            ASSERT_EQ(k[at], want_k[static_cast<size_t>(d)])
                                << "layer " << layer << " head " << head << " pos " << pos << " d " << d;
                            ASSERT_EQ(v[at], want_v[static_cast<size_t>(d)])
                                << "layer " << layer << " head " << head << " pos " << pos << " d " << d;
                        }
                    }
                }
            }
        }
    }
}

// The queries of a chunk read the cache together, block run by block run; each must get the bits
// of its own f32 gather and attention_gathered, whatever the other queries see (and both must be
// attention: they are checked against exact_attention too).
TEST(Attention, PagedEqualsGatheredBitForBit) {
    test::seeded_rng rng;
    level_guard guard;
    const int32_t n_pos = 150;
    // Whole blocks; starts and ends inside blocks (causal rows, sliding windows); one key; none.
    const std::vector<std::pair<int32_t, int32_t>> ranges{{0, n_pos}, {5, 133}, {0, 40}, {0, 41}, {20, 21}, {9, 9}};
    for (dtype t : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
        for (int32_t hd : {40, 64, 96, 256}) {
            if (hd % dtype_info_of(t).block_elems != 0) continue;
            const int32_t n_kv_heads = 2, n_group = hd == 64 ? 4 : 1, layer = 1, head = 1;
            const random_cache c(t, 16, n_kv_heads, hd, 2, n_pos, rng);
            const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
            const auto n_q = ranges.size();
            std::vector<std::vector<float>> qs, gathered(n_q), together(n_q), alone(n_q);
            std::vector<attn_query> queries(n_q);
            for (size_t i = 0; i < n_q; ++i) {
                qs.push_back(random_acts(n_group * hd, rng));
                queries[i].q = qs[i].data();
                queries[i].n_group = n_group;
                std::tie(queries[i].k_begin, queries[i].k_end) = ranges[i];
            }
            for (cpu_level l : levels()) {
                cpu_level_set(l);
                SCOPED_TRACE(std::string(dtype_info_of(t).name) + " " + cpu_level_name(l) +
                             " hd=" + std::to_string(hd));
                attn_scratch scratch;
                for (size_t i = 0; i < n_q; ++i) {
                    for (auto* out : {&gathered[i], &together[i], &alone[i]})
                        out->assign(static_cast<size_t>(n_group * hd), -1.0f);
                    queries[i].out = alone[i].data();
                    attention_paged(c.kv, layer, c.table.data(), head, std::span(&queries[i], 1), scale, scratch);
                }
                for (size_t i = 0; i < n_q; ++i) queries[i].out = together[i].data();
                attention_paged(c.kv, layer, c.table.data(), head, queries, scale, scratch);
                for (size_t i = 0; i < n_q; ++i) {
                    const auto [k_begin, k_end] = ranges[i];
                    SCOPED_TRACE("keys [" + std::to_string(k_begin) + "," + std::to_string(k_end) + ")");
                    std::vector<float> k(static_cast<size_t>(n_pos * hd)), v = k,
                                                                           scores(static_cast<size_t>(n_group * n_pos));
                    kv_gather(c.kv, layer, c.table.data(), head, k_begin, k_end, k.data(), v.data());
                    attn_query q = queries[i];
                    q.out = gathered[i].data();
                    attention_gathered(k.data(), v.data(), k_begin, hd, q, scale, scores.data());
                    for (size_t e = 0; e < gathered[i].size(); ++e) {
                        ASSERT_EQ(alone[i][e], gathered[i][e]) << "alone, element " << e;
                        ASSERT_EQ(together[i][e], gathered[i][e]) << "together, element " << e;
                    }
                    exact_attention(k.data(), v.data(), k_end - k_begin, hd, qs[i].data(), n_group, scale)
                        .check(together[i], hd);
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
}

// Every level's attention (the scalar level runs the reference's own pieces) against exact attention.
TEST(Attention, EveryLevelMatchesTheReference) {
    test::seeded_rng rng;
    level_guard guard;
    int n_levels = 0;
    for (cpu_level l : levels()) {
        ++n_levels;
        cpu_level_set(l);
        for (int64_t hd : {40, 64, 80, 128, 256}) {
            for (int32_t n_group : {1, 4}) {
                for (auto [k_begin, k_end] : {std::pair{3, 4}, std::pair{2, 37}, std::pair{5, 300}, std::pair{7, 7}}) {
                    SCOPED_TRACE(std::string(cpu_level_name(l)) + " hd=" + std::to_string(hd) +
                                 " group=" + std::to_string(n_group) + " keys=[" + std::to_string(k_begin) + "," +
                                 std::to_string(k_end) + ")");
                    const int32_t first = 2, n_rows = 300 - first;
                    const std::vector<float> k = random_acts(n_rows * hd, rng), v = random_acts(n_rows * hd, rng);
                    const std::vector<float> qv = random_acts(n_group * hd, rng);
                    std::vector<float> got(static_cast<size_t>(n_group * hd), -1.0f);
                    std::vector<float> scores(static_cast<size_t>(n_group * n_rows) + 1);
                    attn_query q;
                    q.q = qv.data();
                    q.n_group = n_group;
                    q.k_begin = k_begin;
                    q.k_end = k_end;
                    q.out = got.data();
                    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                    const int64_t skip = (k_begin - first) * hd;
                    attention_gathered(k.data(), v.data(), first, hd, q, scale, scores.data());
                    exact_attention(k.data() + skip, v.data() + skip, k_end - k_begin, hd, qv.data(), n_group, scale)
                        .check(got, hd);
                    if (HasFatalFailure()) return;
                    if (k_end == k_begin) {
                        for (float o : got) ASSERT_EQ(o, 0.0f);  // nothing visible: a zero output, not garbage
                    }
                }
            }
        }
    }
    EXPECT_GT(n_levels, 1) << "this CPU has no SIMD level: only the reference was compared";
}

}  // namespace
}  // namespace tandem
