// AVX2 attention over one block run of the paged cache, read as stored: scores of up to four query
// rows against f16 K rows (floats) or q8_0 / q4_0 K rows (integer dot products against the query's
// codes), the online softmax step, and the probability-weighted sum of V rows decoded on the fly.
// A tile holds eight accumulators, R rows by 8 / R keys (or output vectors), so that the step has
// enough independent chains whether it serves one decode row or four prompt rows.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tandem::cpu {
namespace {

// t[i] = the sum of a[i]'s lanes, as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) for each i:
// a sum's order does not depend on the other seven.
inline void reduce8(const __m256* a, float* t) {
    const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31)));
}

// The 32 signed codes of a q8_0 or q4_0 block, and its scale.
template <dtype T>
inline __m256i block_codes(const uint8_t* blk) {
    if constexpr (T == dtype::q8_0) {
        return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
    } else {
        const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)), low = _mm_set1_epi8(15);
        const __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(qs, 4), low), _mm_and_si128(qs, low));
        return _mm256_sub_epi8(nib, _mm256_set1_epi8(8));
    }
}

template <dtype T>
constexpr size_t k_block_bytes_of = T == dtype::q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0);

inline float block_scale(const uint8_t* blk) {
    uint16_t d;
    std::memcpy(&d, blk, 2);
    return h2f(d);
}

// Scores of R rows against K keys of f16: one FMA chain per (row, key) over 8-lane steps of hd, then
// s = (sum + tail) * scale, tail the elements past hd's last multiple of 8, if any. A step loads its
// R query vectors once into registers (as memory operands of every FMA, the loads outnumbered the
// FMAs); K and R never change a score's arithmetic.
template <int R, int K>
[[gnu::always_inline]] inline void scores_f16(const attn_row_q* q, const uint8_t* k, size_t rb, int64_t hd, float scale,
                                              float* s, int64_t ns) {
    static_assert(R * K <= 8);
    __m256 acc[8];
    for (__m256& a : acc) a = _mm256_setzero_ps();
    const int64_t hd8 = hd / 8 * 8;
    for (int64_t d = 0; d < hd8; d += 8) {
        __m256 qv[R];
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            qv[r] = _mm256_loadu_ps(q[r].f + d);
            pin(qv[r]);
        }
#pragma GCC unroll 8
        for (int c = 0; c < K; ++c) {
            const __m256 kv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + c * rb + 2 * d)));
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) acc[r * K + c] = _mm256_fmadd_ps(qv[r], kv, acc[r * K + c]);
        }
    }
    alignas(32) float t[8];
    reduce8(acc, t);
    if (hd8 < hd) {
        for (int r = 0; r < R; ++r) {
            for (int c = 0; c < K; ++c) {
                const auto* kh = reinterpret_cast<const uint16_t*>(k + c * rb);
                float tail = 0.0f;
                for (int64_t d = hd8; d < hd; ++d) tail += q[r].f[d] * h2f(kh[d]);
                t[r * K + c] += tail;
            }
        }
    }
    _mm256_store_ps(t, _mm256_mul_ps(_mm256_load_ps(t), _mm256_set1_ps(scale)));
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) std::memcpy(s + r * ns, t + r * K, K * sizeof(float));
}

// The integer dot products of R rows' codes with K keys of q8_0 / q4_0, per 32-element block:
// |k| times q with k's sign (maddubs), pairs summed to int32 lanes, the lanes summed exactly;
// dots[(r * nb + b) * nj + c], and the keys' block scales in dk[b * nj + c].
template <dtype T, int R, int K>
void dots_tile(const attn_row_q* q, const uint8_t* k, size_t rb, int64_t nb, int32_t* dots, float* dk, int64_t nj) {
    static_assert(R * K <= 8);
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; ++b) {
        __m256i v[8];
        for (__m256i& x : v) x = _mm256_setzero_si256();
        for (int c = 0; c < K; ++c) {
            const uint8_t* blk = k + c * rb + b * k_block_bytes_of<T>;
            const __m256i kc = block_codes<T>(blk), ka = _mm256_abs_epi8(kc);
            dk[b * nj + c] = block_scale(blk);
            for (int r = 0; r < R; ++r) {
                const __m256i qc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q[r].c + 32 * b));
                v[r * K + c] = _mm256_madd_epi16(_mm256_maddubs_epi16(ka, _mm256_sign_epi8(qc, kc)), ones);
            }
        }
        const __m256i u0 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
        const __m256i u1 = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
        alignas(32) int32_t t[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                                                                           _mm256_permute2x128_si256(u0, u1, 0x31)));
        for (int r = 0; r < R; ++r) {
            for (int c = 0; c < K; ++c) dots[(r * nb + b) * nj + c] = t[r * K + c];
        }
    }
}

// Scores against q8_0 / q4_0 keys: the blocks' integer dot products (exact), then per key, eight
// keys a vector, s = scale * sum over blocks in order of dot_b * (d_q,b * d_k,b), one FMA chain.
template <dtype T, int R>
void scores_coded(const attn_row_q* q, const uint8_t* k, size_t rb, int n, int64_t hd, float scale, float* s,
                  int64_t ns) {
    constexpr int K = 8 / R;
    const int64_t nb = hd / 32, nj = (n + 7) / 8 * 8;
    thread_local std::vector<int32_t> dots;
    thread_local std::vector<float> dk;
    dots.assign(static_cast<size_t>(R * nb * nj), 0);
    dk.assign(static_cast<size_t>(nb * nj), 0.0f);
    int j = 0;
    for (; j + K <= n; j += K) dots_tile<T, R, K>(q, k + j * rb, rb, nb, dots.data() + j, dk.data() + j, nj);
    for (; j < n; ++j) dots_tile<T, R, 1>(q, k + j * rb, rb, nb, dots.data() + j, dk.data() + j, nj);
    for (int r = 0; r < R; ++r) {
        for (int64_t j0 = 0; j0 < nj; j0 += 8) {
            __m256 acc = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                const __m256 dot = _mm256_cvtepi32_ps(
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dots.data() + (r * nb + b) * nj + j0)));
                const __m256 d = _mm256_mul_ps(_mm256_set1_ps(q[r].d[b]), _mm256_loadu_ps(dk.data() + b * nj + j0));
                acc = _mm256_fmadd_ps(dot, d, acc);
            }
            alignas(32) float t[8];
            _mm256_store_ps(t, _mm256_mul_ps(acc, _mm256_set1_ps(scale)));
            std::copy(t, t + std::min<int64_t>(8, n - j0), s + r * ns + j0);
        }
    }
}

// The scores of R rows against the n keys of a run: whole tiles of 8 / R keys, then one key at a time.
template <int R>
void scores_f16_run(const attn_row_q* q, const uint8_t* k, size_t rb, int n, int64_t hd, float scale, float* s,
                    int64_t ns) {
    constexpr int K = 8 / R;
    int j = 0;
    for (; j + K <= n; j += K) scores_f16<R, K>(q, k + j * rb, rb, hd, scale, s + j, ns);
    for (; j < n; ++j) scores_f16<R, 1>(q, k + j * rb, rb, hd, scale, s + j, ns);
}

using coded_fn = void (*)(const attn_row_q*, const uint8_t*, size_t, int, int64_t, float, float*, int64_t);

constexpr coded_fn k_scores_f16[4] = {scores_f16_run<1>, scores_f16_run<2>, scores_f16_run<3>, scores_f16_run<4>};

template <dtype T>
constexpr coded_fn k_coded[4] = {scores_coded<T, 1>, scores_coded<T, 2>, scores_coded<T, 3>, scores_coded<T, 4>};

void scores(dtype t, const attn_row_q* q, int n_rows, const uint8_t* k, size_t rb, int n, int64_t hd, float scale,
            float* s, int64_t ns) {
    if (t == dtype::f16) return k_scores_f16[n_rows - 1](q, k, rb, n, hd, scale, s, ns);
    (t == dtype::q8_0 ? k_coded<dtype::q8_0> : k_coded<dtype::q4_0>)[n_rows - 1](q, k, rb, n, hd, scale, s, ns);
}

float softmax_step(float* s, int n, float* m, float* l) {
    __m256 mv = _mm256_set1_ps(*m);
    int j = 0;
    for (; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + j));
    float top = hmax(mv);
    for (int i = j; i < n; ++i) top = std::max(top, s[i]);
    const __m256 tv = _mm256_set1_ps(top), drop = _mm256_set1_ps(k_attn_drop);
    // e^x, or 0 where x < k_attn_drop.
    const auto factor = [&](__m256 x) { return _mm256_and_ps(exp8(x), _mm256_cmp_ps(x, drop, _CMP_GE_OQ)); };
    __m256 sv = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        const __m256 e = factor(_mm256_sub_ps(_mm256_loadu_ps(s + j), tv));
        _mm256_storeu_ps(s + j, e);
        sv = _mm256_add_ps(sv, e);
    }
    float sum = hsum(sv);
    if (j < n) {
        alignas(32) float t[8] = {};
        std::copy(s + j, s + n, t);
        _mm256_store_ps(t, factor(_mm256_sub_ps(_mm256_load_ps(t), tv)));
        for (int i = j; i < n; ++i) sum += s[i] = t[i - j];
    }
    const float c = *m - top >= k_attn_drop ? std::exp(*m - top) : 0.0f;
    *m = top;
    *l = c * *l + sum;
    return c;
}

// Eight V elements from d of a row, as floats before the row's block scale (f16: the values).
template <dtype T>
inline __m256 v_codes8(const uint8_t* row, int64_t d) {
    if constexpr (T == dtype::f16) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * d)));
    } else if constexpr (T == dtype::q8_0) {
        const uint8_t* blk = row + d / 32 * sizeof(block_q8_0);
        const __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + d % 32));
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c));
    } else {
        const uint8_t* blk = row + d / 32 * sizeof(block_q4_0);
        const int64_t o = d % 32;
        __m128i c = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + 2 + o % 16));
        if (o >= 16) c = _mm_srli_epi16(c, 4);
        c = _mm_and_si128(c, _mm_set1_epi8(15));
        return _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(c), _mm256_set1_epi32(8)));
    }
}

// Output vectors [d0, d0 + 8 V) of R rows: scaled by c, then one FMA per key in order, with weight
// w[r * w_row + (d / 32) * w_block + j]: the probability times the key's block scale (f16: the
// probability, w_block 0).
template <dtype T, int R, int V>
void accumulate_tile(const float* w, int64_t w_row, int64_t w_block, const uint8_t* v, size_t rb, int n, int64_t d0,
                     const float* c, float* const* out) {
    static_assert(R * V <= 8);
    // The small loops are unrolled so that the accumulators live in registers: without it, GCC kept
    // the 4x2 tile's in memory and stored each one back after its every FMA.
    __m256 acc[R][V];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int u = 0; u < V; ++u)
            acc[r][u] = _mm256_mul_ps(_mm256_loadu_ps(out[r] + d0 + 8 * u), _mm256_set1_ps(c[r]));
    }
    for (int j = 0; j < n; ++j) {
        const uint8_t* row = v + j * rb;
#pragma GCC unroll 8
        for (int u = 0; u < V; ++u) {
            const __m256 x = v_codes8<T>(row, d0 + 8 * u);
            const float* wu = w + (d0 + 8 * u) / 32 * w_block + j;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) acc[r][u] = _mm256_fmadd_ps(_mm256_broadcast_ss(wu + r * w_row), x, acc[r][u]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
        for (int u = 0; u < V; ++u) _mm256_storeu_ps(out[r] + d0 + 8 * u, acc[r][u]);
    }
}

using accumulate_fn = void (*)(const float*, int64_t, int64_t, const uint8_t*, size_t, int, int64_t, const float*,
                               float* const*);

template <dtype T>
constexpr accumulate_fn k_accumulate[4][2] = {{accumulate_tile<T, 1, 8>, accumulate_tile<T, 1, 1>},
                                              {accumulate_tile<T, 2, 4>, accumulate_tile<T, 2, 1>},
                                              {accumulate_tile<T, 3, 2>, accumulate_tile<T, 3, 1>},
                                              {accumulate_tile<T, 4, 2>, accumulate_tile<T, 4, 1>}};

template <dtype T>
void accumulate_of(const float* p, int64_t np, int n_rows, const uint8_t* v, size_t rb, int n, int64_t hd,
                   const float* c, float* const* out) {
    const float* w = p;
    int64_t w_row = np, w_block = 0;
    if constexpr (T != dtype::f16) {
        // The weights of each row, block and key: p times the key's block scale, once per call.
        const int64_t nb = hd / 32;
        thread_local std::vector<float> ws;
        ws.resize(static_cast<size_t>(n_rows * nb * n));
        for (int64_t b = 0; b < nb; ++b) {
            for (int j = 0; j < n; ++j) {
                const float dv = block_scale(v + j * rb + b * k_block_bytes_of<T>);
                for (int r = 0; r < n_rows; ++r) ws[(r * nb + b) * n + j] = p[r * np + j] * dv;
            }
        }
        w = ws.data(), w_row = nb * n, w_block = n;
    }
    const accumulate_fn tile = k_accumulate<T>[n_rows - 1][0], one = k_accumulate<T>[n_rows - 1][1];
    const int64_t per_tile = 8 * (8 / n_rows), hd8 = hd / 8 * 8;
    int64_t d = 0;
    for (; d + per_tile <= hd8; d += per_tile) tile(w, w_row, w_block, v, rb, n, d, c, out);
    for (; d < hd8; d += 8) one(w, w_row, w_block, v, rb, n, d, c, out);
    // f16 rows of a head_dim that is not a multiple of 8: the last elements one at a time, the same arithmetic.
    for (; d < hd; ++d) {
        for (int r = 0; r < n_rows; ++r) {
            float o = out[r][d] * c[r];
            for (int j = 0; j < n; ++j)
                o = std::fma(p[r * np + j], h2f(reinterpret_cast<const uint16_t*>(v + j * rb)[d]), o);
            out[r][d] = o;
        }
    }
}

void accumulate(dtype t, const float* p, int64_t np, int n_rows, const uint8_t* v, size_t rb, int n, int64_t hd,
                const float* c, float* const* out) {
    if (t == dtype::f16) return accumulate_of<dtype::f16>(p, np, n_rows, v, rb, n, hd, c, out);
    if (t == dtype::q8_0) return accumulate_of<dtype::q8_0>(p, np, n_rows, v, rb, n, hd, c, out);
    accumulate_of<dtype::q4_0>(p, np, n_rows, v, rb, n, hd, c, out);
}

}  // namespace

const attention_kernels* avx2_attention() {
    static const attention_kernels k{scores, softmax_step, accumulate};
    return &k;
}

}  // namespace tandem::cpu
