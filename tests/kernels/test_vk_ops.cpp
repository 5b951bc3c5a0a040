// Each Vulkan shader of the forward pass against the CPU's own operation (kernels/ops.h) on random
// inputs, at sizes with tails (groups not a multiple of the workgroup, odd head dims, many groups).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"
#include "tests/kernels/vk_fixture.h"

namespace tandem::vk {
namespace {

// Host-visible slices the shaders read and write directly (lavapipe's memory is host-visible; on a
// GPU this is slower but still correct), one recorder and the pipelines.
struct bench_rig {
    pipelines pl;
    allocator mem;
    recorder rec;
    ops op;
    std::vector<slice> held;
    explicit bench_rig(context& ctx) : pl(ctx), mem(ctx, memory_kind::host), rec(ctx), op(pl, rec) {}
    ~bench_rig() {
        for (const slice& s : held) mem.free(s);
    }
    template <class T>
    slice upload(const std::vector<T>& v) {
        const slice s = mem.alloc(v.size() * sizeof(T));
        std::memcpy(s.mapped, v.data(), v.size() * sizeof(T));
        held.push_back(s);
        return s;
    }
    std::vector<float> read(const slice& s, size_t n) const {
        std::vector<float> out(n);
        std::memcpy(out.data(), s.mapped, n * sizeof(float));
        return out;
    }
};

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

TEST_F(VulkanRuntime, EltwiseOpsMatchTheCpu) {
    bench_rig r(*ctx);
    std::mt19937 rng(11);
    for (uint32_t n : {1u, 255u, 257u, 100000u}) {
        SCOPED_TRACE("n " + std::to_string(n));
        const std::vector<float> a = randoms(n, rng), b = randoms(n, rng);
        const slice sa = r.upload(a), sb = r.upload(b), out = r.upload(std::vector<float>(n, -1.0f));
        struct cas {
            eltwise_op op;
            float c;
        };
        for (const cas k : {cas{eltwise_op::add, 0}, cas{eltwise_op::scale, 0.37f}, cas{eltwise_op::swiglu, 0},
                            cas{eltwise_op::geglu_tanh, 0}, cas{eltwise_op::softcap, 2.5f}}) {
            SCOPED_TRACE("op " + std::to_string(static_cast<int>(k.op)));
            r.rec.begin();
            r.op.eltwise(k.op, sa, sb, out, n, k.c);
            r.rec.submit_and_wait();
            std::vector<float> want(n);
            switch (k.op) {
                case eltwise_op::add:
                    for (size_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
                    break;
                case eltwise_op::scale:
                    for (size_t i = 0; i < n; ++i) want[i] = a[i] * k.c;
                    break;
                case eltwise_op::swiglu:
                    op_swiglu(a.data(), b.data(), want.data(), n);
                    break;
                case eltwise_op::geglu_tanh:
                    op_geglu_tanh(a.data(), b.data(), want.data(), n);
                    break;
                case eltwise_op::softcap:
                    want = a;
                    op_softcap(want.data(), n, k.c);
                    break;
            }
            expect_close(r.read(out, n), want, 2e-5f, 2e-6f);
            if (HasFatalFailure()) return;
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
        r.rec.begin();
        r.op.rmsnorm(sx, sw, sy, sh.n, sh.groups, 1e-6f);
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
        r.op.rope(sx, sp, sf, sh.n_tokens, sh.n_heads, sh.head_dim, sh.n_rot, stride, sh.freq_scale, sh.neox);
        r.rec.submit_and_wait();
        std::vector<float> want = x;
        for (uint32_t t = 0; t < sh.n_tokens; ++t)
            op_rope(want.data() + size_t{t} * stride, sh.n_heads, sh.head_dim, pos[t], cfg);
        // Angles up to ~600 rad: one float ulp of theta there moves a pair by ~6e-5 of its norm.
        expect_close(r.read(sx, x.size()), want, 2e-4f, 2e-4f);
        if (HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace tandem::vk
