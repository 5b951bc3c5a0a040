// Small AVX2 helpers shared by the AVX2 kernel files (include only from files compiled with
// -mavx2 -mfma -mf16c).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/fp16.h"
#include "kernels/types.h"

namespace tandem::cpu {

// Shared by the AVX2 matmul files: activation rows per register tile (16 ymm registers: 4 rows of
// accumulators plus temporaries), and the bytes of weight rows kept in L2 while every row tile passes.
constexpr int k_max_rows = 4;
constexpr size_t k_block_bytes = 256 << 10;

// An empty asm that claims to change v: v is in a register at this point, and GCC cannot
// reassociate a chain of integer adds across it. Without it, GCC rebuilds a tile's long
// accumulations (8 maddubs per row, R rows) into trees whose leaves are all live at once, and a
// many-row tile spills most of its registers to the stack.
inline void pin(__m256i& v) {
    asm("" : "+x"(v));
}
// The same for a float vector: it stays in a register, not folded back into every use as a load.
inline void pin(__m256& v) {
    asm("" : "+x"(v));
}

inline float h2f(uint16_t h) {
    return _cvtsh_ss(h);
}

inline float hsum(__m256 v) {
    __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_add_ps(t, _mm_movehl_ps(t, t));
    t = _mm_add_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

// Eight elements from i of a row of float weights (f32, f16 or bf16), exactly as floats.
inline __m256 load_w8(dtype wt, const uint8_t* w, int64_t i) {
    if (wt == dtype::f16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
    if (wt == dtype::bf16) {
        const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2 * i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
    }
    return _mm256_loadu_ps(reinterpret_cast<const float*>(w) + i);
}

// Element i of the same.
inline float load_w1(dtype wt, const uint8_t* w, int64_t i) {
    if (wt == dtype::f16) return fp16_to_f32(reinterpret_cast<const uint16_t*>(w)[i]);
    if (wt == dtype::bf16) return bf16_to_f32(reinterpret_cast<const uint16_t*>(w)[i]);
    return reinterpret_cast<const float*>(w)[i];
}

inline float hmax(__m256 v) {
    __m128 t = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    t = _mm_max_ps(t, _mm_movehl_ps(t, t));
    t = _mm_max_ss(t, _mm_movehdup_ps(t));
    return _mm_cvtss_f32(t);
}

// e^x to about 2 ulp for x in [-87, 88] (clamped there): x = n ln2 + r with |r| <= ln2 / 2, a
// degree-7 polynomial in r (Cephes' expf coefficients), times 2^n built in the exponent bits.
inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    for (float c : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f})
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// 0xff in byte e where bit e of bits is set, else 0.
inline __m256i bit_bytes(uint32_t bits) {
    const __m256i spread =
        _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)),
                            _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

// The rest of a K-quant super-block after its steps (the int8 matmul's super-block decoders,
// k_int_sums): d scales the integer sum; the output loses m[j] * s[8g + j] (float mins per 32
// elements: q4_K, q5_K, the ternary types, iq1_s) or, with k_half_mins (q2_K, q3_K, q6_K: mins per 16
// elements), the integer sum loses mins16[c] * hs[16g + c] (k_mins_in_d: mins16 are in units of d,
// as q3_K's 4 * scale and q6_K's 32 * scale are), or the output loses dmin * d_x * that sum (q2_K).
struct k_tail {
    float d;
    __m256 m;
    __m256i mins16;
    float dmin;
};

}  // namespace tandem::cpu
