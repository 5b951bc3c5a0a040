// The activation kernels (SwiGLU, GELU-tanh GLU, the logit softcap) at every SIMD level this CPU
// has, against the scalar reference of ops.h: within float rounding of it on random and extreme
// inputs of odd lengths, and identical however a span is split (the backend splits rows over the
// thread pool).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "kernels/ops.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

std::vector<float> inputs(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    const float extremes[] = {0.0f,  -0.0f, 1e-6f, -1e-4f, 0.1f,   -0.2f,  0.2499f, 0.2501f,
                              -0.3f, 5.0f,  -9.0f, 40.0f,  -60.0f, 100.0f, -200.0f};
    std::vector<float> v(static_cast<size_t>(n));
    for (size_t i = 0; i < v.size(); ++i) v[i] = i % 3 == 0 ? extremes[(i / 3) % std::size(extremes)] : normal(rng);
    return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], want[i], 1e-6f + 4e-6f * std::fabs(want[i])) << what << " element " << i;
}

TEST(Activations, EveryLevelMatchesTheScalarReference) {
    test::level_guard guard;
    for (cpu_level level : test::levels()) {
        cpu_level_set(level);
        SCOPED_TRACE(cpu_level_name(level));
        for (int64_t n : {1, 7, 8, 9, 31, 64, 67, 1000}) {
            const std::vector<float> gate = inputs(n, 1), up = inputs(n, 2);
            std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
            activation_swiglu(gate.data(), up.data(), got.data(), n);
            op_swiglu(gate.data(), up.data(), want.data(), n);
            expect_close(got, want, "swiglu");
            activation_geglu_tanh(gate.data(), up.data(), got.data(), n);
            op_geglu_tanh(gate.data(), up.data(), want.data(), n);
            expect_close(got, want, "geglu_tanh");
            for (float c : {30.0f, 50.0f}) {
                got = gate;
                want = gate;
                activation_softcap(got.data(), n, c);
                op_softcap(want.data(), n, c);
                expect_close(got, want, "softcap");
            }
        }
    }
}

TEST(Activations, ASplitSpanGivesTheSameValues) {
    test::level_guard guard;
    for (cpu_level level : test::levels()) {
        cpu_level_set(level);
        const int64_t n = 53;
        const std::vector<float> gate = inputs(n, 3), up = inputs(n, 4);
        std::vector<float> whole(static_cast<size_t>(n)), parts(static_cast<size_t>(n));
        activation_geglu_tanh(gate.data(), up.data(), whole.data(), n);
        for (int64_t c0 = 0; c0 < n; c0 += 5)
            activation_geglu_tanh(gate.data() + c0, up.data() + c0, parts.data() + c0, std::min<int64_t>(5, n - c0));
        EXPECT_EQ(whole, parts) << cpu_level_name(level);
        whole = gate;
        parts = gate;
        activation_softcap(whole.data(), n, 30.0f);
        activation_softcap(parts.data(), 20, 30.0f);
        activation_softcap(parts.data() + 20, n - 20, 30.0f);
        EXPECT_EQ(whole, parts) << cpu_level_name(level);
    }
}

}  // namespace
}  // namespace tandem
