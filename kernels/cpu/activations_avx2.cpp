// AVX2 activations: eight elements at a time through exp8, the tail through a padded copy, so every
// element gets the same arithmetic. GELU (tanh form) is x * sigmoid(2u): 0.5 x (1 + tanh u) without
// the cancellation of 1 + tanh u near -1.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tandem::cpu {
namespace {

// x / (1 + e^-z), elementwise.
inline __m256 div_by_one_plus_exp_neg(__m256 x, __m256 z) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

inline __m256 gelu8(__m256 x) {
    const __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    const __m256 u =
        _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    return div_by_one_plus_exp_neg(x, _mm256_add_ps(u, u));
}

inline __m256 silu8(__m256 x) {
    return div_by_one_plus_exp_neg(x, x);
}

// tanh y: an odd Taylor polynomial below |y| = 0.25 (error under 1e-7 there), else
// 1 - 2 / (e^2|y| + 1); the sign of y restored.
inline __m256 tanh8(__m256 y) {
    const __m256 sign = _mm256_and_ps(y, _mm256_set1_ps(-0.0f));
    const __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), y);
    const __m256 big = _mm256_sub_ps(
        _mm256_set1_ps(1.0f),
        _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(exp8(_mm256_add_ps(a, a)), _mm256_set1_ps(1.0f))));
    const __m256 a2 = _mm256_mul_ps(a, a);
    __m256 p = _mm256_set1_ps(-17.0f / 315.0f);
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(2.0f / 15.0f));
    p = _mm256_fmadd_ps(p, a2, _mm256_set1_ps(-1.0f / 3.0f));
    const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, a2), a, a);
    const __m256 t = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.25f), _CMP_LT_OQ));
    return _mm256_or_ps(t, sign);
}

// out[i] = f(gate[i]) * up[i].
template <__m256 (*F)(__m256)>
void gated(const float* gate, const float* up, float* out, int64_t n) {
    const int64_t n8 = n / 8 * 8;
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(F(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    if (n8 == n) return;
    alignas(32) float g[8] = {}, u[8] = {};
    std::copy(gate + n8, gate + n, g);
    std::copy(up + n8, up + n, u);
    _mm256_store_ps(g, _mm256_mul_ps(F(_mm256_load_ps(g)), _mm256_load_ps(u)));
    std::copy(g, g + (n - n8), out + n8);
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
    gated<silu8>(gate, up, out, n);
}

void geglu_tanh(const float* gate, const float* up, float* out, int64_t n) {
    gated<gelu8>(gate, up, out, n);
}

void softcap(float* x, int64_t n, float c) {
    const __m256 cv = _mm256_set1_ps(c), inv = _mm256_set1_ps(1.0f / c);
    const int64_t n8 = n / 8 * 8;
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(cv, tanh8(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv))));
    if (n8 == n) return;
    alignas(32) float t[8] = {};
    std::copy(x + n8, x + n, t);
    _mm256_store_ps(t, _mm256_mul_ps(cv, tanh8(_mm256_mul_ps(_mm256_load_ps(t), inv))));
    std::copy(t, t + (n - n8), x + n8);
}

}  // namespace

const activation_kernels* avx2_activations() {
    static const activation_kernels k{swiglu, geglu_tanh, softcap};
    return &k;
}

void avx2_to_f16(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
    }
    for (; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

}  // namespace tandem::cpu
