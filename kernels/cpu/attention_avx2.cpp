// AVX2 attention pieces over f32 K/V rows (attention.cpp decodes the cache's rows and runs them):
// scores, softmax, and the probability-weighted sum of V rows.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tandem::cpu {
namespace {

// In-place softmax, every element through exp8 (the tail through a padded copy).
void softmax(float* x, int64_t n) {
    if (n <= 0) return;
    const int64_t n8 = n / 8 * 8;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n8; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float mx = hmax(mv);
    for (int64_t i = n8; i < n; ++i) mx = std::max(mx, x[i]);
    const __m256 m = _mm256_set1_ps(mx);
    __m256 sv = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        sv = _mm256_add_ps(sv, e);
    }
    float sum = hsum(sv);
    if (n8 < n) {
        alignas(32) float t[8] = {};
        std::copy(x + n8, x + n, t);
        _mm256_store_ps(t, exp8(_mm256_sub_ps(_mm256_load_ps(t), m)));
        for (int64_t i = n8; i < n; ++i) sum += x[i] = t[i - n8];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_set1_ps(inv)));
    for (int64_t i = n8; i < n; ++i) x[i] *= inv;
}

// s[j] = scale * q . k_j for j < n_keys, eight keys at a time: one FMA chain per key over 8-lane
// steps, then a pairwise tree across the chains. Every score gets the same arithmetic whatever
// its key's place among the eight (batch invariance).
template <int M>
inline void scores8(const float* q, const float* k, int64_t hd, float scale, float* s) {
    const int64_t hd8 = hd / 8 * 8;
    __m256 acc[8];
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int64_t d = 0; d < hd8; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        for (int c = 0; c < M; ++c) acc[c] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k + c * hd + d), acc[c]);
    }
    const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
    const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
    alignas(32) float t[8];
    _mm256_store_ps(t, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
    for (int c = 0; c < M; ++c) {
        float tail = 0.0f;
        for (int64_t d = hd8; d < hd; ++d) tail += q[d] * k[c * hd + d];
        s[c] = (t[c] + tail) * scale;
    }
}

void scores(const float* q, const float* k, int64_t n_keys, int64_t hd, float scale, float* s) {
    int64_t j = 0;
    for (; j + 8 <= n_keys; j += 8) scores8<8>(q, k + j * hd, hd, scale, s + j);
    using tail_fn = void (*)(const float*, const float*, int64_t, float, float*);
    static constexpr tail_fn tails[8] = {nullptr,    scores8<1>, scores8<2>, scores8<3>,
                                         scores8<4>, scores8<5>, scores8<6>, scores8<7>};
    if (j < n_keys) tails[n_keys - j](q, k + j * hd, hd, scale, s + j);
}

// out[d] += sum_j p[j] * v[j * hd + d], one FMA chain per column over the rows in order, taken up
// from out: 64 columns at a time (8 chains), then 8, then one.
void accumulate(const float* p, const float* v, int64_t n_rows, int64_t hd, float* out) {
    int64_t d = 0;
    for (; d + 64 <= hd; d += 64) {
        __m256 acc[8];
        for (int c = 0; c < 8; ++c) acc[c] = _mm256_loadu_ps(out + d + 8 * c);
        for (int64_t j = 0; j < n_rows; ++j) {
            const __m256 pj = _mm256_broadcast_ss(p + j);
            const float* vj = v + j * hd + d;
            for (int c = 0; c < 8; ++c) acc[c] = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8 * c), acc[c]);
        }
        for (int c = 0; c < 8; ++c) _mm256_storeu_ps(out + d + 8 * c, acc[c]);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 acc = _mm256_loadu_ps(out + d);
        for (int64_t j = 0; j < n_rows; ++j)
            acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * hd + d), acc);
        _mm256_storeu_ps(out + d, acc);
    }
    for (; d < hd; ++d) {
        float s = out[d];
        for (int64_t j = 0; j < n_rows; ++j) s = std::fma(p[j], v[j * hd + d], s);
        out[d] = s;
    }
}

}  // namespace

const attention_kernels* avx2_attention() {
    static const attention_kernels k{scores, softmax, accumulate};
    return &k;
}

}  // namespace tandem::cpu
