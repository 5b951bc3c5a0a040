// Each Vulkan shader of the forward pass against the CPU's own operation (kernels/ops.h) on random
// inputs, at sizes with tails (groups not a multiple of the workgroup, odd head dims, many groups).
// The matmul and embedding shaders' weight formats are tested in test_vk_weights.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/kv_layout.h"
#include "kernels/ops.h"
#include "kernels/ref/ref.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_kv.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"
#include "tests/kernels/vk_fixture.h"

namespace tandem::vk {
namespace {

std::vector<float> randoms(size_t n, std::mt19937& rng, float lo = -3.0f, float hi = 3.0f) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, float rel, float abs_tol) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], abs_tol + rel * std::fabs(want[i])) << "element " << i;
}

// Barriers only where data flows (recorder::track): two ops writing different rows of one buffer
// from the same input need none between them; an op reading both needs one (read after write); an
// op writing in place what it reads needs one after that (write after read), and the results are
// those of the chain. The 64-row sizes leave lavapipe's threads room to run the ops out of order.
TEST_F(VulkanRuntime, BarriersOnlyWhereDataFlows) {
    bench_rig r(*ctx);
    std::mt19937 rng(11);
    const uint32_t rows = 64, cols = 257;
    const std::vector<float> a = randoms(size_t{rows} * cols, rng);
    const slice sa = r.upload(a), so = r.upload(std::vector<float>(size_t{3} * rows * cols, 0.0f));
    const view va{sa, 0, rows, cols, cols}, b{so, 0, rows, cols, cols}, c{so, rows * cols, rows, cols, cols},
        d{so, 2 * rows * cols, rows, cols, cols};
    r.rec.begin();
    r.op.eltwise(eltwise_op::scale, va, va, b, 2.0f);  // b = 2a
    r.op.eltwise(eltwise_op::scale, va, va, c, 3.0f);  // c = 3a: no barrier, other rows of the buffer
    EXPECT_EQ(r.rec.barriers(), 0u);
    r.op.eltwise(eltwise_op::add, b, c, d);  // d = b + c: reads what both wrote
    EXPECT_EQ(r.rec.barriers(), 1u);
    r.op.eltwise(eltwise_op::scale, b, b, b, 0.5f);  // b = a in place: overwrites what d's op read
    EXPECT_EQ(r.rec.barriers(), 2u);
    r.op.eltwise(eltwise_op::scale, c, c, c, 2.0f);  // c = 6a: d's op read it, but a barrier since
    EXPECT_EQ(r.rec.barriers(), 2u);
    r.rec.submit_and_wait();
    const std::vector<float> got = r.read(so, size_t{3} * rows * cols);
    for (size_t i = 0; i < a.size(); ++i) {
        ASSERT_EQ(got[i], 2.0f * a[i] * 0.5f) << i;
        ASSERT_EQ(got[a.size() + i], 3.0f * a[i] * 2.0f) << i;
        ASSERT_EQ(got[2 * a.size() + i], 2.0f * a[i] + 3.0f * a[i]) << i;
    }
}

// Whole rows through views with offsets and strides, a bias row broadcast over rows (add) and one
// scalar over everything (mul), against the CPU's scalar code.
TEST_F(VulkanRuntime, EltwiseOpsMatchTheCpu) {
    bench_rig r(*ctx);
    std::mt19937 rng(11);
    struct shape {
        uint32_t rows, cols;
    };
    for (const shape sh : {shape{1, 1}, shape{1, 255}, shape{3, 257}, shape{40, 2500}}) {
        SCOPED_TRACE("rows " + std::to_string(sh.rows) + " cols " + std::to_string(sh.cols));
        const uint32_t off = 3, stride = sh.cols + 2, n = off + stride * sh.rows;
        const std::vector<float> a = randoms(n, rng), b = randoms(n, rng);
        const slice sa = r.upload(a), sb = r.upload(b), so = r.upload(std::vector<float>(n, -1.0f));
        const view va{sa, off, sh.rows, sh.cols, stride}, vb{sb, off, sh.rows, sh.cols, stride},
            vo{so, off, sh.rows, sh.cols, stride};
        const view bias{sb, 1, 1, sh.cols, 0}, scalar{sb, 2, 1, 1, 0};
        struct cas {
            eltwise_op op;
            view b;
            float c;
        };
        for (const cas& k :
             {cas{eltwise_op::add, vb, 0}, cas{eltwise_op::add, bias, 0}, cas{eltwise_op::mul, scalar, 0},
              cas{eltwise_op::scale, va, 0.37f}, cas{eltwise_op::swiglu, vb, 0}, cas{eltwise_op::geglu_tanh, vb, 0},
              cas{eltwise_op::softcap, va, 2.5f}}) {
            SCOPED_TRACE("op " + std::to_string(static_cast<int>(k.op)) + " b rows " + std::to_string(k.b.rows));
            r.rec.begin();
            r.op.eltwise(k.op, va, k.b, vo, k.c);
            r.rec.submit_and_wait();
            const std::vector<float> got = r.read(so, n);
            for (uint32_t row = 0; row < sh.rows; ++row) {
                for (uint32_t col = 0; col < sh.cols; ++col) {
                    const size_t i = off + size_t{row} * stride + col;
                    const float x = a[i];
                    const float y = b[k.b.off + row * k.b.stride + (k.b.cols == 1 ? 0 : col)];
                    float want = 0;
                    switch (k.op) {
                        case eltwise_op::add:
                            want = x + y;
                            break;
                        case eltwise_op::mul:
                            want = x * y;
                            break;
                        case eltwise_op::scale:
                            want = x * k.c;
                            break;
                        case eltwise_op::swiglu:
                            op_swiglu(&x, &y, &want, 1);
                            break;
                        case eltwise_op::geglu_tanh:
                            op_geglu_tanh(&x, &y, &want, 1);
                            break;
                        case eltwise_op::softcap:
                            want = x;
                            op_softcap(&want, 1, k.c);
                            break;
                    }
                    ASSERT_NEAR(got[i], want, 2e-6f + 2e-5f * std::fabs(want)) << "row " << row << " col " << col;
                }
            }
            for (uint32_t row = 0; row < sh.rows; ++row)  // the gaps between rows are left alone
                ASSERT_EQ(got[off + size_t{row} * stride + sh.cols], -1.0f);
        }
    }
}

TEST_F(VulkanRuntime, RmsnormMatchesTheCpu) {
    bench_rig r(*ctx);
    std::mt19937 rng(12);
    struct shape {
        uint32_t n, groups;
        bool weight;
    };
    for (const shape sh :
         {shape{64, 3, true}, shape{2048, 2, true}, shape{40, 70001, false}, shape{129, 5, false}, shape{1, 4, true}}) {
        SCOPED_TRACE("n " + std::to_string(sh.n) + " groups " + std::to_string(sh.groups));
        const std::vector<float> x = randoms(size_t{sh.n} * sh.groups, rng), w = randoms(sh.n, rng, 0.5f, 1.5f);
        const slice sx = r.upload(x), sw = sh.weight ? r.upload(w) : slice{},
                    sy = r.upload(std::vector<float>(x.size()));
        // Groups as heads of a row (5 per row) where the count allows, else one group per row.
        const uint32_t per_row = sh.groups % 5 == 0 ? 5 : 1, rows = sh.groups / per_row, width = sh.n * per_row;
        r.rec.begin();
        r.op.rmsnorm({sx, 0, rows, width, width}, sw, {sy, 0, rows, width, width}, sh.n, 1e-6f);
        r.rec.submit_and_wait();
        std::vector<float> want(x.size());
        for (uint32_t g = 0; g < sh.groups; ++g)
            op_rmsnorm(x.data() + size_t{g} * sh.n, want.data() + size_t{g} * sh.n, sh.n,
                       sh.weight ? w.data() : nullptr, 1e-6f);
        expect_close(r.read(sy, x.size()), want, 1e-5f, 1e-6f);
        if (HasFatalFailure()) return;
    }
}

TEST_F(VulkanRuntime, RopeMatchesTheCpu) {
    bench_rig r(*ctx);
    std::mt19937 rng(13);
    struct shape {
        uint32_t n_tokens, n_heads, head_dim, n_rot;
        bool neox, factors;
        float freq_scale;
    };
    for (const shape sh : {shape{3, 4, 64, 64, false, false, 1.0f}, shape{5, 2, 128, 128, true, true, 1.0f},
                           shape{2, 3, 80, 32, true, false, 0.25f}, shape{7, 1, 256, 256, false, true, 1.0f}}) {
        SCOPED_TRACE("heads " + std::to_string(sh.n_heads) + " head_dim " + std::to_string(sh.head_dim) + " n_rot " +
                     std::to_string(sh.n_rot) + (sh.neox ? " neox" : ""));
        const uint32_t stride = sh.n_heads * sh.head_dim + 16;  // rows with room after the heads
        const std::vector<float> x = randoms(size_t{stride} * sh.n_tokens, rng);
        const std::vector<float> ff = randoms(sh.n_rot / 2, rng, 1.0f, 8.0f);
        std::vector<int32_t> pos(sh.n_tokens);
        for (uint32_t t = 0; t < sh.n_tokens; ++t) pos[t] = static_cast<int32_t>(t * 97 + 3);
        rope_config cfg;
        cfg.n_rot = static_cast<int32_t>(sh.n_rot);
        cfg.freq_base = 10000.0f;
        cfg.freq_scale = sh.freq_scale;
        cfg.neox = sh.neox;
        cfg.freq_factors = sh.factors ? ff.data() : nullptr;
        const slice sx = r.upload(x), sp = r.upload(pos),
                    sf = r.upload(rope_frequencies(cfg.n_rot, cfg.freq_base, cfg.freq_factors));
        r.rec.begin();
        r.op.rope({sx, 0, sh.n_tokens, sh.n_heads * sh.head_dim, stride}, sp, sf, sh.n_heads, sh.head_dim, sh.n_rot,
                  sh.freq_scale, sh.neox);
        r.rec.submit_and_wait();
        std::vector<float> want = x;
        for (uint32_t t = 0; t < sh.n_tokens; ++t)
            op_rope(want.data() + size_t{t} * stride, sh.n_heads, sh.head_dim, pos[t], cfg);
        // Angles up to ~600 rad: one float ulp of theta there moves a pair by ~6e-5 of its norm.
        expect_close(r.read(sx, x.size()), want, 2e-4f, 2e-4f);
        if (HasFatalFailure()) return;
    }
}

// Two sequences' K/V written by kv_store into the device cache through scattered block tables read
// back as exactly the CPU cache's rows (kv_write_token, decoded by the reference), and attention over
// it (GQA 1, 2 and 4, sliding windows, the drafter's see-self rule, several query rows per sequence)
// agreeing with attention over the CPU cache's rows (gathered, through the scalar reference), at
// head dims up to 512 (the README's limit; 512 at GQA 2 crashed a peer's flash attention).
TEST_F(VulkanRuntime, KvStoreAndAttentionMatchTheCpu) {
    bench_rig r(*ctx);
    std::mt19937 rng(16);
    const int32_t bs = 16, n_kv = 2, n_layers = 2, layer = 1;
    const std::vector<int32_t> lens{37, 20};
    const std::vector<std::vector<int32_t>> tables{{5, 0, 3}, {2, 4}};
    const int32_t n_blocks = 6, table_stride = 3;
    for (dtype t : {dtype::f16, dtype::q8_0, dtype::q4_0}) {
        for (int32_t hd : {64, 128, 256, 512}) {
            SCOPED_TRACE(std::string(dtype_info_of(t).name) + " head_dim " + std::to_string(hd));
            const kv_device_layout l(t, bs, n_kv, hd, n_layers);
            // The CPU cache.
            kv_group_view kv;
            kv.block_size = bs, kv.n_kv_heads = n_kv, kv.head_dim = hd, kv.type = t;
            kv.row_bytes = dtype_row_bytes(t, hd);
            kv.part_bytes = static_cast<size_t>(bs * n_kv) * kv.row_bytes;
            kv.block_bytes = 2 * static_cast<size_t>(n_layers) * kv.part_bytes;
            std::vector<uint8_t> host_pool(kv.block_bytes * n_blocks);
            kv.base = host_pool.data();
            // Every token of both sequences as one batch: K and V side by side in one arena row.
            const uint32_t width = static_cast<uint32_t>(n_kv * hd), stride = 2 * width + 8;
            std::vector<float> arena;
            std::vector<int32_t> slots, tok_info, flat_tables(2 * table_stride, 0);
            for (size_t s = 0; s < lens.size(); ++s) {
                for (size_t b = 0; b < tables[s].size(); ++b) flat_tables[s * table_stride + b] = tables[s][b];
                for (int32_t pos = 0; pos < lens[s]; ++pos) {
                    const std::vector<float> row = randoms(stride, rng, -2.0f, 2.0f);
                    arena.insert(arena.end(), row.begin(), row.end());
                    kv_write_token(kv, layer, tables[s].data(), pos, row.data(), row.data() + width);
                    slots.push_back(tables[s][static_cast<size_t>(pos / bs)] * bs + pos % bs);
                    tok_info.push_back(pos), tok_info.push_back(static_cast<int32_t>(s));
                }
            }
            const uint32_t n_tok = static_cast<uint32_t>(slots.size());
            const slice sa = r.upload(arena), ss = r.upload(slots);
            const slice pool = r.upload(std::vector<uint32_t>(uint64_t{l.block_words} * n_blocks, 0xdeadbeef));
            r.rec.begin();
            r.op.kv_store(l, pool, layer, {sa, 0, n_tok, width, stride}, {sa, width, n_tok, width, stride}, ss);
            r.rec.submit_and_wait();
            const auto* words = static_cast<const uint32_t*>(pool.mapped);
            std::vector<float> got(static_cast<size_t>(hd)), want(static_cast<size_t>(hd));
            for (size_t s = 0; s < lens.size(); ++s) {
                for (int32_t pos = 0; pos < lens[s]; ++pos) {
                    const int32_t block = tables[s][static_cast<size_t>(pos / bs)];
                    for (int32_t h = 0; h < n_kv; ++h) {
                        for (uint32_t part = 0; part < 2; ++part) {
                            kv_decode_row(l, words + l.row_word(block, layer, part, h, pos % bs), got.data());
                            const uint8_t* cpu =
                                part == 0 ? kv.k_row(block, layer, pos % bs, h) : kv.v_row(block, layer, pos % bs, h);
                            ref::dequantize_row(t, cpu, want.data(), hd);
                            ASSERT_EQ(got, want) << "seq " << s << " pos " << pos << " head " << h << " part " << part;
                        }
                    }
                }
            }
            // Attention: the last 3 positions of sequence 0 and the last of sequence 1, under each rule.
            struct rule {
                int32_t window;
                bool see_self;
            };
            for (const auto& [gqa, ru] :
                 {std::pair{2, rule{0, true}}, std::pair{2, rule{5, true}}, std::pair{2, rule{0, false}},
                  std::pair{2, rule{40, true}}, std::pair{1, rule{0, true}}, std::pair{4, rule{5, true}}}) {
                const int32_t n_heads = n_kv * gqa;
                SCOPED_TRACE("gqa " + std::to_string(gqa) + " window " + std::to_string(ru.window) +
                             (ru.see_self ? "" : " without self"));
                std::vector<int32_t> q_tok{34, 0, 35, 0, 36, 0, 19, 1};
                const uint32_t n_q = 4, qw = static_cast<uint32_t>(n_heads * hd);
                const std::vector<float> q = randoms(size_t{n_q} * qw, rng, -1.0f, 1.0f);
                const slice sq = r.upload(q), so = r.upload(std::vector<float>(size_t{n_q} * qw, -7.0f));
                const slice st = r.upload(q_tok), stab = r.upload(flat_tables);
                ops::attention_args a;
                a.n_heads = n_heads, a.layer_slot = layer, a.table_stride = table_stride;
                a.scale = 1.0f / std::sqrt(static_cast<float>(hd)), a.window = ru.window, a.see_self = ru.see_self;
                r.rec.begin();
                r.op.attention(l, pool, {sq, 0, n_q, qw, qw}, {so, 0, n_q, qw, qw}, st, stab, a);
                r.rec.submit_and_wait();
                const std::vector<float> out = r.read(so, size_t{n_q} * qw);
                for (uint32_t i = 0; i < n_q; ++i) {
                    const int32_t pos = q_tok[2 * i], s = q_tok[2 * i + 1];
                    const int32_t end = ru.see_self ? pos + 1 : pos;
                    const int32_t begin = ru.window > 0 && pos + 1 > ru.window ? pos + 1 - ru.window : 0;
                    for (int32_t kh = 0; kh < n_kv; ++kh) {
                        // The oracle: the CPU cache's rows gathered to f32, through the scalar reference.
                        std::vector<float> cpu(static_cast<size_t>(gqa * hd), 0.0f);
                        const size_t n_keys = static_cast<size_t>(std::max(0, end - begin));
                        std::vector<float> keys(n_keys * hd), values(keys.size()), scores(gqa * n_keys);
                        kv_gather(kv, layer, tables[static_cast<size_t>(s)].data(), kh, begin, end, keys.data(),
                                  values.data());
                        if (n_keys > 0)
                            ref::attend(keys.data(), values.data(), static_cast<int64_t>(n_keys), hd,
                                        q.data() + i * qw + kh * gqa * hd, gqa, cpu.data(), a.scale, scores.data());
                        for (int32_t e = 0; e < gqa * hd; ++e)
                            ASSERT_NEAR(out[i * qw + kh * gqa * hd + e], cpu[static_cast<size_t>(e)], 2e-5f)
                                << "query " << i << " kv head " << kh << " element " << e;
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace tandem::vk
