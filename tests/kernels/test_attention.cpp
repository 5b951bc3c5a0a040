// Paged attention kernels: the gather reads exactly the rows kv_write_token wrote, through a
// scattered block table, and every SIMD level's attention agrees with the scalar reference (fresh
// random inputs; TANDEM_TEST_SEED=<n> replays a failure).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
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

TEST(Attention, GatherReadsTheRowsWrittenThroughTheBlockTable) {
    test::seeded_rng rng;
    for (dtype t : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
        SCOPED_TRACE(std::string(dtype_info_of(t).name));
        kv_group_view kv;
        kv.block_size = 4;
        kv.n_kv_heads = 3;
        kv.head_dim = 64;
        kv.type = t;
        kv.row_bytes = dtype_row_bytes(t, kv.head_dim);
        kv.part_bytes = static_cast<size_t>(kv.block_size * kv.n_kv_heads) * kv.row_bytes;
        const int32_t n_layers = 2, n_blocks = 5, n_pos = 11;
        kv.block_bytes = 2 * n_layers * kv.part_bytes;
        std::vector<uint8_t> pool(kv.block_bytes * n_blocks, 0xee);
        kv.base = pool.data();
        const int32_t table[] = {3, 0, 4};  // positions 0-3 in block 3, 4-7 in block 0, 8-10 in block 4
        const int64_t width = kv.n_kv_heads * kv.head_dim;
        std::vector<std::vector<float>> ks, vs;  // per (layer, position): n_kv_heads * head_dim
        for (int32_t layer = 0; layer < n_layers; ++layer) {
            for (int32_t pos = 0; pos < n_pos; ++pos) {
                ks.push_back(random_acts(width, rng));
                vs.push_back(random_acts(width, rng));
                kv_write_token(kv, layer, table, pos, ks.back().data(), vs.back().data());
            }
        }
        // What a row reads back as: the same type's encoding of what was written.
        std::vector<uint8_t> enc(kv.row_bytes);
        auto round_trip = [&](const float* x) {
            std::vector<float> out(static_cast<size_t>(kv.head_dim));
            quantize_row(t, x, enc.data(), kv.head_dim);
            ref::dequantize_row(t, enc.data(), out.data(), kv.head_dim);
            return out;
        };
        for (int32_t layer = 0; layer < n_layers; ++layer) {
            for (int32_t head = 0; head < kv.n_kv_heads; ++head) {
                for (auto [begin, end] : {std::pair{0, n_pos}, std::pair{2, 9}, std::pair{5, 6}, std::pair{4, 8}}) {
                    std::vector<float> k(static_cast<size_t>((end - begin) * kv.head_dim), -1.0f), v = k;
                    kv_gather(kv, layer, table, head, begin, end, k.data(), v.data());
                    for (int32_t pos = begin; pos < end; ++pos) {
                        const size_t src = static_cast<size_t>(layer * n_pos + pos);
                        const std::vector<float> want_k = round_trip(ks[src].data() + head * kv.head_dim);
                        const std::vector<float> want_v = round_trip(vs[src].data() + head * kv.head_dim);
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

TEST(Attention, EveryLevelMatchesTheReference) {
    test::seeded_rng rng;
    level_guard guard;
    for (cpu_level l : levels()) {
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
                    std::vector<float> want(static_cast<size_t>(n_group * hd), -1.0f), got = want;
                    std::vector<float> scores(static_cast<size_t>(n_group * n_rows) + 1);
                    attn_query q;
                    q.q = qv.data();
                    q.n_group = n_group;
                    q.k_begin = k_begin;
                    q.k_end = k_end;
                    q.out = got.data();
                    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                    const int64_t skip = (k_begin - first) * hd;
                    ref::attend(k.data() + skip, v.data() + skip, k_end - k_begin, hd, qv.data(), n_group, want.data(),
                                scale, scores.data());
                    attention_gathered(k.data(), v.data(), first, hd, q, scale, scores.data());
                    for (size_t i = 0; i < got.size(); ++i) {
                        ASSERT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << "i=" << i;
                    }
                    if (k_end == k_begin) {
                        for (float o : got) ASSERT_EQ(o, 0.0f);  // nothing visible: a zero output, not garbage
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace tandem
