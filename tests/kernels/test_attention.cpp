// Paged attention kernels: the gather reads exactly the rows kv_write_token wrote, through a
// scattered block table; every level's paged attention agrees with attention in double precision
// within float rounding (and, for q8_0 / q4_0 K, the rounding of the query to 8 bits), and gives a
// query the same bits whatever other queries share the call (fresh random inputs;
// TANDEM_TEST_SEED=<n> replays a failure).
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

    // coded: the kernel rounds q to 8-bit codes per 32 elements (scale max |q| / 127), so q_i may
    // move by max |q| / 254 in its block and a score by scale times that times the block's sum |k_i|;
    // a softmax moves an output by at most about twice its largest score's move times max |v|.
    exact_attention(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group,
                    float scale, bool coded = false)
        : out(static_cast<size_t>(n_group * hd), 0.0f), tol(static_cast<size_t>(n_group), 0.0) {
        std::vector<double> p(static_cast<size_t>(n_keys));
        for (int32_t g = 0; g < n_group; ++g) {
            const float* qg = q + g * hd;
            double top = -INFINITY, sum = 0, s_max = 0, v_max = 0, coded_max = 0;
            for (int64_t j = 0; j < n_keys; ++j) {
                double dot = 0, mag = 0, coded_move = 0;
                for (int64_t i = 0; i < hd; ++i) {
                    dot += static_cast<double>(qg[i]) * k[j * hd + i];
                    mag += std::fabs(static_cast<double>(qg[i]) * k[j * hd + i]);
                    v_max = std::max(v_max, std::fabs(static_cast<double>(v[j * hd + i])));
                }
                for (int64_t b = 0; coded && b < hd / 32; ++b) {
                    double q_max = 0, k_sum = 0;
                    for (int64_t i = 32 * b; i < 32 * b + 32; ++i) {
                        q_max = std::max(q_max, std::fabs(static_cast<double>(qg[i])));
                        k_sum += std::fabs(static_cast<double>(k[j * hd + i]));
                    }
                    coded_move += q_max / 254 * k_sum;
                }
                p[j] = dot * scale;
                top = std::max(top, p[j]);
                s_max = std::max(s_max, mag * scale);
                coded_max = std::max(coded_max, coded_move * scale);
            }
            for (int64_t j = 0; j < n_keys; ++j) sum += p[j] = std::exp(p[j] - top);
            for (int64_t i = 0; i < hd; ++i) {
                double o = 0;
                for (int64_t j = 0; j < n_keys; ++j) o += p[j] / sum * v[j * hd + i];
                out[g * hd + i] = static_cast<float>(o);
            }
            tol[g] = 32 * FLT_EPSILON * (1 + s_max) * v_max + 2.5 * coded_max * v_max;
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

// The queries of a chunk read the cache together, block run by block run, up to four query rows a
// pass where their keys agree; each must get the bits it gets alone, whatever the other queries see,
// and both must be attention (against exact_attention over the gathered rows). The ranges: whole
// blocks, starts and ends inside blocks (causal rows, sliding windows), repeats (rows that share a
// pass), one key, none.
TEST(Attention, PagedIsAttentionAndBatchInvariant) {
    test::seeded_rng rng;
    level_guard guard;
    const int32_t n_pos = 150;
    const std::vector<std::pair<int32_t, int32_t>> ranges{{0, n_pos}, {5, 133}, {0, 40},  {0, 41}, {0, 41},
                                                          {0, 41},    {0, 41},  {20, 21}, {9, 9},  {0, 150}};
    int n_levels = 0;
    for (cpu_level l : levels()) {
        ++n_levels;
        cpu_level_set(l);
        for (dtype t : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
            for (auto [hd, n_group] : {std::pair{36, 2}, std::pair{40, 1}, std::pair{64, 4}, std::pair{64, 3},
                                       std::pair{96, 1}, std::pair{128, 8}, std::pair{256, 1}}) {
                if (hd % dtype_info_of(t).block_elems != 0) continue;
                const int32_t n_kv_heads = 2, layer = 1, head = 1;
                const random_cache c(t, 16, n_kv_heads, hd, 2, n_pos, rng);
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                const auto n_q = ranges.size();
                std::vector<std::vector<float>> qs, together(n_q), alone(n_q);
                std::vector<attn_query> queries(n_q);
                for (size_t i = 0; i < n_q; ++i) {
                    qs.push_back(random_acts(n_group * hd, rng));
                    queries[i].q = qs[i].data();
                    queries[i].n_group = n_group;
                    std::tie(queries[i].k_begin, queries[i].k_end) = ranges[i];
                }
                SCOPED_TRACE(std::string(dtype_info_of(t).name) + " " + cpu_level_name(l) +
                             " hd=" + std::to_string(hd) + " group=" + std::to_string(n_group));
                attn_scratch scratch;
                for (size_t i = 0; i < n_q; ++i) {
                    for (auto* out : {&together[i], &alone[i]}) out->assign(static_cast<size_t>(n_group * hd), -1.0f);
                    queries[i].out = alone[i].data();
                    attention_paged(c.kv, layer, c.table.data(), head, std::span(&queries[i], 1), scale, scratch);
                }
                for (size_t i = 0; i < n_q; ++i) queries[i].out = together[i].data();
                attention_paged(c.kv, layer, c.table.data(), head, queries, scale, scratch);
                for (size_t i = 0; i < n_q; ++i) {
                    const auto [k_begin, k_end] = ranges[i];
                    SCOPED_TRACE("query " + std::to_string(i) + " keys [" + std::to_string(k_begin) + "," +
                                 std::to_string(k_end) + ")");
                    for (size_t e = 0; e < alone[i].size(); ++e)
                        ASSERT_EQ(together[i][e], alone[i][e]) << "element " << e;
                    if (k_end == k_begin) {
                        for (float o : alone[i]) ASSERT_EQ(o, 0.0f);  // nothing visible: a zero output, not garbage
                        continue;
                    }
                    std::vector<float> k(static_cast<size_t>(n_pos * hd)), v = k;
                    kv_gather(c.kv, layer, c.table.data(), head, k_begin, k_end, k.data(), v.data());
                    exact_attention(k.data(), v.data(), k_end - k_begin, hd, qs[i].data(), n_group, scale,
                                    t != dtype::f16)
                        .check(alone[i], hd);
                    if (HasFatalFailure()) return;
                }
            }
        }
    }
    EXPECT_GT(n_levels, 1) << "this CPU has no SIMD level: only the reference was compared";
}

// The oracle of the other tests and of the Vulkan backend's: ref::attend over gathered rows is attention.
TEST(Attention, TheGatheredReferenceIsAttention) {
    test::seeded_rng rng;
    for (int64_t hd : {40, 64, 128}) {
        for (int32_t n_group : {1, 4}) {
            for (int64_t n_keys : {1, 37, 300}) {
                SCOPED_TRACE("hd=" + std::to_string(hd) + " group=" + std::to_string(n_group) +
                             " keys=" + std::to_string(n_keys));
                const std::vector<float> k = random_acts(n_keys * hd, rng), v = random_acts(n_keys * hd, rng);
                const std::vector<float> qv = random_acts(n_group * hd, rng);
                std::vector<float> got(static_cast<size_t>(n_group * hd), -1.0f);
                std::vector<float> scores(static_cast<size_t>(n_group * n_keys));
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                ref::attend(k.data(), v.data(), n_keys, hd, qv.data(), n_group, got.data(), scale, scores.data());
                exact_attention(k.data(), v.data(), n_keys, hd, qv.data(), n_group, scale).check(got, hd);
                if (HasFatalFailure()) return;
            }
        }
    }
}

}  // namespace
}  // namespace tandem
