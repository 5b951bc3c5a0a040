// AVX2 + FMA + F16C kernels. Int8 dots use the sign trick: maddubs(|w|, sign(x, w)) == w * x
// without saturation because activation codes stay within [-127, 127]. One 32-element step per ymm:
// int32 lane i holds elements 4i..4i+3.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/iq_groups_avx2.h"
#include "kernels/fp16.h"

namespace tandem::cpu {
namespace {

constexpr int64_t k_prefetch_bytes = 1024;  // how far ahead of the weight group being decoded to prefetch

inline int hsum_i32(__m256i v) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtsi128_si32(t);
}

// Weight types whose kernel sums each 256-element super-block in integers (row_q8_int: the K-quants,
// tq1_0, tq2_0 and the IQ codebook types): their activations take one scale per super-block, as
// llama.cpp's q8_K, stored in each of its 8 blocks.
bool super_block_scale(dtype wt) {
    return wt == dtype::q2_k || wt == dtype::q3_k || wt == dtype::q4_k || wt == dtype::q5_k || wt == dtype::q6_k ||
           wt == dtype::tq1_0 || wt == dtype::tq2_0 || iq_codebook_type(wt);
}

int64_t act_block(dtype wt) {
    return super_block_scale(wt) ? 256 : 32;
}

void quantize_act(const float* x, const act_q8& a, int64_t r) {
    auto* q = reinterpret_cast<int8_t*>(a.q + r * a.n_pad);
    float* d = a.d + r * a.d_stride;
    float* s = a.s + r * a.s_stride;
    int16_t* hs = a.hs + r * a.h_stride;
    const int64_t nb = a.n_in / 32, nb_pad = a.n_pad / 32;
    const int64_t per_scale = super_block_scale(a.wt) ? 8 : 1;  // blocks
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t b0 = 0; b0 < nb; b0 += per_scale) {
        const int64_t b1 = std::min(nb, b0 + per_scale);
        __m256 m = _mm256_setzero_ps();
        for (int64_t i = 32 * b0; i < 32 * b1; i += 8)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
        const float amax = hmax(m);
        const __m256 inv = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        for (int64_t b = b0; b < b1; ++b) {
            __m256i i[4];
            for (int j = 0; j < 4; ++j)
                i[j] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * b + 8 * j), inv));
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * b), _mm256_permutevar8x32_epi32(p, perm));
            d[b] = amax / 127.0f;
            const int sum0 = hsum_i32(_mm256_add_epi32(i[0], i[1])), sum1 = hsum_i32(_mm256_add_epi32(i[2], i[3]));
            s[b] = d[b] * static_cast<float>(sum0 + sum1);
            hs[2 * b] = static_cast<int16_t>(sum0);
            hs[2 * b + 1] = static_cast<int16_t>(sum1);
        }
    }
    std::memset(q + 32 * nb, 0, static_cast<size_t>(32 * (nb_pad - nb)));
    std::fill(d + nb, d + a.d_stride, 0.0f);
    std::fill(s + nb, s + a.s_stride, 0.0f);
    std::fill(hs + 2 * nb, hs + a.h_stride, int16_t{0});
}

// ---- int8 matmul: weight decoders by group of 8 steps (256 elements) ----
//
// A decoder of the *_0 and *_1 types (float scales per 32 elements) has group(row, g, nb, scales,
// step, mins), which decodes steps [8g, 8g + 8) of a weight row: scales(ws8) first, with the scales
// of the 8 steps (zero past the row's end), then step(j, w) per step and mins(m8) last, if the type
// has mins: the output loses m8[j] * s[8g + j]. row_q8 sums each step in floats.
// A K-quant decoder (k_int_sums) has group(row, g, step) -> k_tail, which decodes super-block g:
// step(j, w, sc16) per step, sc16 holding the step's integer sub-block scales (int16 lane k: those
// of elements 2k, 2k + 1), then the tail: the super-block's float scale and its mins. row_q8_int sums
// the whole super-block in integers, as the activations have one scale per super-block there.
// Unsigned decoders give codes in [0, 63], which meet the signed activation codes directly in
// maddubs; signed ones (q8_0) need the sign trick. The IQ codebook types give magnitudes with their
// signs apart (k_signs), which go on the activations.

inline __m256 scales8_f16(const uint16_t* h) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h)));
}

// An f16 field (d or m) of each of the n (<= 8) blocks starting at b, as 8 floats (zero past n).
template <class B>
inline __m256 block_halves(const B* b, int64_t n, uint16_t B::*field) {
    alignas(16) uint16_t h[8] = {};
    if (n == 8) {
        for (int j = 0; j < 8; ++j) h[j] = b[j].*field;
    } else {
        for (int64_t j = 0; j < n; ++j) h[j] = b[j].*field;
    }
    return scales8_f16(h);
}

template <class B>
inline __m256 block_scales(const B* b, int64_t n) {
    return block_halves(b, n, &B::d);
}

// Calls one(j) for the n (<= 8) steps of a group, unrolled when the group is whole.
template <class F>
inline void for_steps(int64_t n, F&& one) {
    if (n == 8) {
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) one(j);
    } else {
        for (int64_t j = 0; j < n; ++j) one(j);
    }
}

// The 32 nibbles of a 16-byte *_0 / *_1 block as bytes: elements 0..15 (low), then 16..31 (high).
// (The 16 bytes go to both halves straight from memory; the high half is shifted right by 4.)
inline __m256i nibbles32(const uint8_t* qs) {
    const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
    return _mm256_and_si256(_mm256_srlv_epi32(q, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
}

// 0x10 in byte e where bit e of the 32-bit qh is set (the 5th bit of q5_0 / q5_1 element e).
inline __m256i fifth_bits(const uint8_t* qh4) {
    return _mm256_and_si256(bit_bytes(load_u32(qh4)), _mm256_set1_epi8(0x10));
}

struct group_q8_0 {
    static constexpr bool k_unsigned = false, k_int_sums = false;
    static constexpr int64_t k_group_bytes = 8 * sizeof(block_q8_0);
    template <class S, class F, class M>
    static void group(const uint8_t* row, int64_t g, int64_t nb, S&& scales, F&& step, M&&) {
        const auto* b = reinterpret_cast<const block_q8_0*>(row) + 8 * g;
        const int64_t n = std::min<int64_t>(8, nb - 8 * g);
        scales(block_scales(b, n));
        for_steps(n, [&](int64_t j) { step(j, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[j].qs))); });
    }
};

// The *_0 and *_1 types as unsigned codes u: w = d * u + m, with m = -8d (q4_0), -16d (q5_0) or
// the block's own m (q4_1, q5_1); the mins are -m.
template <class B, bool k_five_bits>
struct group_small {
    static constexpr bool k_unsigned = true, k_int_sums = false;
    static constexpr int64_t k_group_bytes = 8 * sizeof(B);
    template <class S, class F, class M>
    static void group(const uint8_t* row, int64_t g, int64_t nb, S&& scales, F&& step, M&& mins) {
        const B* b = reinterpret_cast<const B*>(row) + 8 * g;
        const int64_t n = std::min<int64_t>(8, nb - 8 * g);
        const __m256 ws = block_scales(b, n);
        scales(ws);
        for_steps(n, [&](int64_t j) {
            if constexpr (k_five_bits)
                step(j, _mm256_or_si256(nibbles32(b[j].qs), fifth_bits(b[j].qh)));
            else
                step(j, nibbles32(b[j].qs));
        });
        if constexpr (requires { &B::m; })
            mins(_mm256_sub_ps(_mm256_setzero_ps(), block_halves(b, n, &B::m)));
        else
            mins(_mm256_mul_ps(ws, _mm256_set1_ps(k_five_bits ? 16.0f : 8.0f)));
    }
};
using group_q4_0 = group_small<block_q4_0, false>;
using group_q4_1 = group_small<block_q4_1, false>;
using group_q5_0 = group_small<block_q5_0, true>;
using group_q5_1 = group_small<block_q5_1, true>;

// sc16 for a step whose 32 elements share int16 scale lane j of s16 (lanes 0-7, both halves).
inline __m256i scale_of_step(__m256i s16, int j) {
    return _mm256_shuffle_epi8(s16, _mm256_set1_epi16(static_cast<int16_t>((2 * j + 1) << 8 | 2 * j)));
}

// q4_K and q5_K: group g is super-block g; step j is sub-block j (low nibbles of qs[32c..] for
// j = 2c, high for 2c + 1) with its 6-bit scale; q5_K adds bit j of qh[l] as the 5th bit of element l.
template <class B, bool k_five_bits>
struct group_k {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = false, k_signs = false;
    static constexpr int64_t k_group_bytes = sizeof(B);
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const B& b = reinterpret_cast<const B*>(row)[g];
        uint64_t sc64, mn64;
        unpack_k_scales64(b.scales, sc64, mn64);
        const __m256i s16 =
            _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(sc64))));
        const __m256i mask4 = _mm256_set1_epi8(0x0f);
        __m256i qh = _mm256_setzero_si256();
        if constexpr (k_five_bits) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
        const __m256i bit4 = _mm256_set1_epi8(0x10);
        // Bit j of each qh byte moved to bit 4 (shifts within 16-bit lanes; the mask drops what crosses bytes).
        const auto fifth = [&](int j) {
            const __m256i t = j < 4 ? _mm256_slli_epi16(qh, 4 - j) : _mm256_srli_epi16(qh, j - 4);
            return _mm256_and_si256(t, bit4);
        };
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
            __m256i lo = _mm256_and_si256(q, mask4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask4);
            if constexpr (k_five_bits) {
                lo = _mm256_or_si256(lo, fifth(2 * c));
                hi = _mm256_or_si256(hi, fifth(2 * c + 1));
            }
            step(2 * c, lo, scale_of_step(s16, 2 * c));
            step(2 * c + 1, hi, scale_of_step(s16, 2 * c + 1));
        }
        const __m256 mins = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(mn64))));
        return {h2f(b.d), _mm256_mul_ps(_mm256_set1_ps(h2f(b.dmin)), mins), _mm256_setzero_si256(), 0.0f};
    }
};
using group_q4_k = group_k<block_q4_k, false>;
using group_q5_k = group_k<block_q5_k, true>;

// q6_K as unsigned 6-bit codes u: w = d * sc * (u - 32) with a signed 8-bit scale per 16 elements,
// so a step's sc16 holds two scales (elements 0-15, 16-31), and the mins, 32 * d * sc, meet the
// activations' half sums.
struct group_q6_k {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = true, k_signs = false;
    static constexpr bool k_mins_in_d = true;
    static constexpr int64_t k_group_bytes = sizeof(block_q6_k);
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const block_q6_k& b = reinterpret_cast<const block_q6_k*>(row)[g];
        const __m256i mask4 = _mm256_set1_epi8(0x0f), mask30 = _mm256_set1_epi8(0x30);
        // The 16 signed scales; those of half h as int16, in both 128-bit lanes.
        const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
        const __m128i sc_half[2] = {sc, _mm_srli_si128(sc, 8)};
        const auto sc16 = [&](int h) { return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc_half[h])); };
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m256i s16 = sc16(h);
            const __m256i l0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
            const __m256i l1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
            const __m256i lo[4] = {_mm256_and_si256(l0, mask4), _mm256_and_si256(l1, mask4),
                                   _mm256_and_si256(_mm256_srli_epi16(l0, 4), mask4),
                                   _mm256_and_si256(_mm256_srli_epi16(l1, 4), mask4)};
            const __m256i hb[4] = {_mm256_and_si256(_mm256_slli_epi16(qh, 4), mask30),
                                   _mm256_and_si256(_mm256_slli_epi16(qh, 2), mask30), _mm256_and_si256(qh, mask30),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), mask30)};
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
                // Scale 2j of this half on elements 0-15 (low 128 bits), 2j + 1 on 16-31.
                const __m256i pick =
                    _mm256_setr_m128i(_mm_set1_epi16(static_cast<int16_t>((4 * j + 1) << 8 | 4 * j)),
                                      _mm_set1_epi16(static_cast<int16_t>((4 * j + 3) << 8 | (4 * j + 2))));
                step(4 * h + j, _mm256_or_si256(lo[j], hb[j]), _mm256_shuffle_epi8(s16, pick));
            }
        }
        return {h2f(b.d), _mm256_setzero_ps(), _mm256_slli_epi16(_mm256_cvtepi8_epi16(sc), 5), 0.0f};
    }
};

// q2_K and q3_K: two halves of 128; step 4h + j takes bits 2j, 2j + 1 of qs[32h + l] for its element
// l (q3_K adds bit 4h + j of hmask[l] as a third bit), and the scales of 16-element chunks 2s, 2s + 1.
// q2_K: value d * scale * code - dmin * min; q3_K: d * scale * (code - 4), so its mins are 4 d scale.
template <class B>
struct group_low_k {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = true, k_signs = false;
    static constexpr bool k_q3 = std::is_same_v<B, block_q3_k>;
    static constexpr bool k_mins_in_d = k_q3;  // q3_K's mins are 4 * its scales; q2_K's have their own dmin
    static constexpr int64_t k_group_bytes = sizeof(B);
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const B& b = reinterpret_cast<const B*>(row)[g];
        const __m128i mask4 = _mm_set1_epi8(0x0f);
        // The 16 scales and mins (int16, per 16 elements: q3_K's are 4 times its scales, in units of d).
        __m256i s16, m16;
        float dmin = 0.0f;
        if constexpr (k_q3) {  // unpack_q3_k_scales on vectors: low nibbles of bytes 0-7 then their high
            // nibbles; bits 2(i / 4), 2(i / 4) + 1 of byte 8 + i % 4 above them; minus 32
            const __m128i lo8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales));
            const __m128i lo =
                _mm_unpacklo_epi64(_mm_and_si128(lo8, mask4), _mm_and_si128(_mm_srli_epi16(lo8, 4), mask4));
            const __m128i h4 = _mm_set1_epi32(static_cast<int>(load_u32(b.scales + 8)));
            __m128i hi = _mm_blend_epi32(h4, _mm_srli_epi32(h4, 2), 0x2);
            hi = _mm_blend_epi32(hi, _mm_srli_epi32(h4, 4), 0x4);
            hi = _mm_and_si128(_mm_blend_epi32(hi, _mm_srli_epi32(h4, 6), 0x8), _mm_set1_epi8(3));
            s16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32)));
            m16 = _mm256_slli_epi16(s16, 2);
        } else {
            const __m128i sb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
            s16 = _mm256_cvtepu8_epi16(_mm_and_si128(sb, mask4));
            m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb, 4), mask4));
            dmin = h2f(b.dmin);
        }
        // s16: scales 0-7 in the low lane, 8-15 in the high.
        const k_tail tail{h2f(b.d), _mm256_setzero_ps(), m16, dmin};
        const __m256i mask3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
        __m256i hm = _mm256_setzero_si256();
        if constexpr (k_q3) hm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask));
        // Half h's scales in both lanes (chosen outside the loop: the permute needs an immediate even when
        // the loop is not unrolled, as at -O1).
        const __m256i halves[2] = {_mm256_permute4x64_epi64(s16, 0x44), _mm256_permute4x64_epi64(s16, 0xee)};
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * h));
            const __m256i sh = halves[h];
#pragma GCC unroll 4
            for (int j = 0; j < 4; ++j) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), mask3);
                if constexpr (k_q3) {
                    const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(hm, 4 * h + j), one);
                    u = _mm256_or_si256(u, _mm256_slli_epi16(hb, 2));
                }
                // Scale 2j of the half on elements 0-15 (low lane), 2j + 1 on 16-31, from registers (an
                // array on the stack and two broadcasts a step were a third of q2_K's instructions).
                const __m256i pick =
                    _mm256_setr_m128i(_mm_set1_epi16(static_cast<int16_t>((4 * j + 1) << 8 | 4 * j)),
                                      _mm_set1_epi16(static_cast<int16_t>((4 * j + 3) << 8 | (4 * j + 2))));
                step(4 * h + j, u, _mm256_shuffle_epi8(sh, pick));
            }
        }
        return tail;
    }
};
using group_q2_k = group_low_k<block_q2_k>;
using group_q3_k = group_low_k<block_q3_k>;

// tq1_0's base-3 digits as unsigned codes 0..2 (value code - 1): digit n of byte b is
// ((b * 3^n) mod 256) * 3 / 256, for the multiplier 3^n in the same byte of mult. Each byte is moved
// to the top of its 16-bit lane (low byte zero), so a 16-bit multiply leaves (b * 3^n) mod 256 there
// and the high half of a multiply by 3 is the digit, with nothing to mask in between.
inline __m256i tq1_digits(__m256i b, __m256i mult) {
    const __m256i three = _mm256_set1_epi16(3);
    const auto digit = [&](__m256i top, __m256i m) {  // the digit in the low byte of each lane
        return _mm256_mulhi_epu16(_mm256_mullo_epi16(top, m), three);
    };
    const __m256i even = digit(_mm256_slli_epi16(b, 8), _mm256_and_si256(mult, _mm256_set1_epi16(0x00ff)));
    const __m256i odd =
        digit(_mm256_and_si256(b, _mm256_set1_epi16(static_cast<int16_t>(0xff00))), _mm256_srli_epi16(mult, 8));
    return _mm256_or_si256(even, _mm256_slli_epi16(odd, 8));
}

// tq1_0: steps 0-4 are digit n of qs[0..31]; steps 5 and 6 digits 0, 1 and 2, 3 of qs[32..47] (16
// elements each), step 7 digit 4 of qs[32..47] then the 16 elements of qh (element 240 + 4n + m:
// digit n of qh[m]). Scale 1 and mins d, as tq2_0.
struct group_tq1_0 {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = false, k_signs = false;
    static constexpr bool k_int16_steps = true;
    static constexpr int64_t k_group_bytes = sizeof(block_tq1_0);
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const block_tq1_0& b = reinterpret_cast<const block_tq1_0*>(row)[g];
        const __m256i one16 = _mm256_set1_epi16(1);
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
        const __m128i c16 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs + 32));
        const __m256i c = _mm256_broadcastsi128_si256(c16);
        constexpr int8_t k_pow3[5] = {1, 3, 9, 27, 81};
#pragma GCC unroll 5
        for (int n = 0; n < 5; ++n) step(n, tq1_digits(a, _mm256_set1_epi8(k_pow3[n])), one16);
        step(5, tq1_digits(c, _mm256_setr_m128i(_mm_set1_epi8(1), _mm_set1_epi8(3))), one16);
        step(6, tq1_digits(c, _mm256_setr_m128i(_mm_set1_epi8(9), _mm_set1_epi8(27))), one16);
        const __m256i last = _mm256_setr_m128i(c16, _mm_set1_epi32(static_cast<int>(load_u32(b.qh))));
        const __m256i last_mult =
            _mm256_setr_m128i(_mm_set1_epi8(81), _mm_setr_epi8(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27));
        step(7, tq1_digits(last, last_mult), one16);
        const float d = h2f(b.d);
        return {d, _mm256_set1_ps(d), _mm256_setzero_si256(), 0.0f};
    }
};

// tq2_0: step 4h + l takes bits 2l, 2l + 1 of qs[32h + m] for its element m, as the unsigned code u
// in 0..2 of the value d * (u - 1): scale 1 for every step, and mins d per step.
struct group_tq2_0 {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = false, k_signs = false;
    static constexpr bool k_int16_steps = true;
    static constexpr int64_t k_group_bytes = sizeof(block_tq2_0);
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const block_tq2_0& b = reinterpret_cast<const block_tq2_0*>(row)[g];
        const __m256i mask2 = _mm256_set1_epi8(3), one16 = _mm256_set1_epi16(1);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * h));
#pragma GCC unroll 4
            for (int l = 0; l < 4; ++l) step(4 * h + l, _mm256_and_si256(_mm256_srli_epi16(q, 2 * l), mask2), one16);
        }
        const float d = h2f(b.d);
        return {d, _mm256_set1_ps(d), _mm256_setzero_si256(), 0.0f};
    }
};

// iq4_nl, iq4_xs and mxfp4: a nibble indexes a 16-entry table of signed codes (one byte shuffle),
// taken by the signed path of row_q8 as q8_0's codes are; only the scales differ.
inline __m256i table_codes(const int8_t* table, const uint8_t* qs) {
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table)));
    return _mm256_shuffle_epi8(lut, nibbles32(qs));
}

// 2^(e - 128) for 8 E8M0 exponent bytes: mxfp4's scales halved (its codes are kept doubled, as
// integers), built from the bits (a libm ldexp per block of 32 cost the 1-row matmul 3x its time);
// e = 0 and 1 give the subnormals 2^-128 and 2^-127.
inline __m256 e8m0_half8(const uint8_t* e) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(e)));
    const __m256i normal = _mm256_slli_epi32(_mm256_sub_epi32(v, _mm256_set1_epi32(1)), 23);
    const __m256i sub = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), v);  // e = 0, 1
    const __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(2), v);
    return _mm256_castsi256_ps(_mm256_blendv_epi8(normal, sub, is_sub));
}

// Blocks of 32 with one scale each (its f16 d, or mxfp4's exponent as 2^(e - 128), the codes doubled).
template <class B>
struct group_table {
    static constexpr bool k_unsigned = false, k_int_sums = false;
    static constexpr int64_t k_group_bytes = 8 * sizeof(B);
    template <class S, class F, class M>
    static void group(const uint8_t* row, int64_t g, int64_t nb, S&& scales, F&& step, M&&) {
        const B* b = reinterpret_cast<const B*>(row) + 8 * g;
        const int64_t n = std::min<int64_t>(8, nb - 8 * g);
        const int8_t* table = k_iq4nl_values;
        if constexpr (std::is_same_v<B, block_mxfp4>) {
            alignas(32) uint8_t e[8] = {};  // past n: no step reads those lanes
            if (n == 8) {
                for (int j = 0; j < 8; ++j) e[j] = b[j].e;
            } else {
                for (int64_t j = 0; j < n; ++j) e[j] = b[j].e;
            }
            scales(e8m0_half8(e));
            table = k_mxfp4_values;
        } else {
            scales(block_scales(b, n));
        }
        for_steps(n, [&](int64_t j) { step(j, table_codes(table, b[j].qs)); });
    }
};
using group_iq4_nl = group_table<block_iq4_nl>;
using group_mxfp4 = group_table<block_mxfp4>;

// iq4_xs: group g is super-block g; step j is sub-block j with scale d * (its 6-bit scale - 32).
struct group_iq4_xs {
    static constexpr bool k_unsigned = false, k_int_sums = false;
    static constexpr int64_t k_group_bytes = sizeof(block_iq4_xs);
    template <class S, class F, class M>
    static void group(const uint8_t* row, int64_t g, int64_t, S&& scales, F&& step, M&&) {
        const block_iq4_xs& b = reinterpret_cast<const block_iq4_xs*>(row)[g];
        // Scale j: nibble j of scales_l (low nibble first) and bits 2j, 2j + 1 of scales_h above it, all
        // eight at once by per-lane shifts (decoded one by one in scalar code they were a third of the time).
        const __m256i lo = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(load_u32(b.scales_l))),
                                             _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28));
        const __m256i hi =
            _mm256_srlv_epi32(_mm256_set1_epi32(b.scales_h), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
        const __m256i ls = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xf)),
                                           _mm256_slli_epi32(_mm256_and_si256(hi, _mm256_set1_epi32(3)), 4));
        scales(
            _mm256_mul_ps(_mm256_set1_ps(h2f(b.d)), _mm256_cvtepi32_ps(_mm256_sub_epi32(ls, _mm256_set1_epi32(32)))));
        for_steps(8, [&](int64_t j) { step(j, table_codes(k_iq4nl_values, b.qs + 16 * j)); });
    }
};

// The hardware prefetcher stops at 4 KiB pages (mmapped weights): fetch ahead of group g explicitly.
template <class D>
inline void prefetch_group(const uint8_t* w, int64_t g) {
    for (int64_t off = 0; off < D::k_group_bytes; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(w + g * D::k_group_bytes + off) + k_prefetch_bytes, _MM_HINT_T0);
}

// One weight row against R activation rows, for the *_0 and *_1 types. Per output the arithmetic is
// the same whatever R is (same group scales product, dot, fma per step and mins per group): the
// basis of batch invariance.
template <class D, int R>
void row_q8(const uint8_t* w, int64_t nb, const act_q8& a, int64_t r0, float* y, int64_t n_out) {
    const act_rows<R> xr(a, r0);
    // Each group sums into a fresh t[r] (from zero), so the dependency chains of consecutive groups
    // overlap; acc[r] takes one add per group.
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    const int64_t n_groups = (nb + 7) / 8;
    for (int64_t g = 0; g < n_groups; ++g) {
        alignas(32) float prod[R][8];  // weight scale * activation scale, per step
        __m256 t[R];
        for (int r = 0; r < R; ++r) t[r] = _mm256_setzero_ps();
        const int64_t k0 = 8 * g;
        prefetch_group<D>(w, g);
        auto scales = [&](__m256 ws8) {
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) _mm256_store_ps(prod[r], _mm256_mul_ps(ws8, _mm256_loadu_ps(xr.d[r] + k0)));
        };
        auto step = [&](int64_t j, __m256i w) {
            const __m256i aw = D::k_unsigned ? w : _mm256_sign_epi8(w, w);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr.q[r] + 32 * (k0 + j)));
                const __m256i p16 =
                    D::k_unsigned ? _mm256_maddubs_epi16(w, x) : _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
                const __m256 v = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones));
                t[r] = _mm256_fmadd_ps(v, _mm256_broadcast_ss(&prod[r][j]), t[r]);
            }
        };
        auto mins = [&](__m256 m8) {
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) t[r] = _mm256_fnmadd_ps(m8, _mm256_loadu_ps(xr.s[r] + k0), t[r]);
        };
        D::group(w, g, nb, scales, step, mins);
        for (int r = 0; r < R; ++r) acc[r] = _mm256_add_ps(acc[r], t[r]);
    }
    for (int r = 0; r < R; ++r) y[r * n_out] = hsum(acc[r]);
}

// Decoders with k_int16_steps (tq1_0, tq2_0: codes 0..2, scale 1): a super-block's maddubs pair sums, at
// most 2 * 2 * 127 each over 8 steps, stay within int16, so they are added as they are and widened to
// int32 once per super-block instead of once per step. The same integers: the same outputs.
template <class D>
constexpr bool int16_steps() {
    if constexpr (requires { D::k_int16_steps; }) return D::k_int16_steps;
    return false;
}

// One weight row against R activation rows, for the K-quants and the IQ codebook types: each super-block's steps are
// summed in int32 (codes times sub-block scales, exact in int32), then scaled once by the weight's d times the
// activation's super-block scale. Per output the arithmetic is the same whatever R is.
template <class D, int R>
void row_q8_int(const uint8_t* w, int64_t nb, const act_q8& a, int64_t r0, float* y, int64_t n_out) {
    static_assert(D::k_unsigned,
                  "maddubs takes the weight codes as its unsigned operand (signs go on the activations)");
    const act_rows<R> xr(a, r0);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < nb / 8; ++g) {
        prefetch_group<D>(w, g);
        const int64_t k0 = 8 * g;
        __m256i isum[R];
        for (int r = 0; r < R; ++r) isum[r] = _mm256_setzero_si256();
        const k_tail tail = D::group(w, g, [&](int j, __m256i wq, __m256i sc16, __m256i signs = __m256i{}) {
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr.q[r] + 32 * (k0 + j)));
                if constexpr (D::k_signs) x = _mm256_sign_epi8(x, signs);
                if constexpr (int16_steps<D>())
                    isum[r] = _mm256_add_epi16(isum[r], _mm256_maddubs_epi16(wq, x));
                else
                    isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(_mm256_maddubs_epi16(wq, x), sc16));
                // (q2_K / q3_K: 16 rows of 768x2048 0.33-0.38 -> 0.28-0.32 ms; the codebook types with
                // signs ran 5-10% slower pinned, so they keep GCC's schedule, as do the int16 steps: tq2_0's
                // 1-row 2048x2048 took 0.086 ms pinned, 0.078 not)
                if constexpr (!D::k_signs && !int16_steps<D>()) pin(isum[r]);
            }
        });
        if constexpr (int16_steps<D>()) {
            for (int r = 0; r < R; ++r) isum[r] = _mm256_madd_epi16(isum[r], _mm256_set1_epi16(1));
        }
        const __m256 d = _mm256_set1_ps(tail.d);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m256 dx = _mm256_broadcast_ss(xr.d[r] + k0);
            if constexpr (D::k_half_mins) {  // mins per 16 elements against the integer half sums
                const __m256i mins = _mm256_madd_epi16(
                    tail.mins16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xr.hs[r] + 2 * k0)));
                if constexpr (D::k_mins_in_d) {
                    isum[r] = _mm256_sub_epi32(isum[r], mins);
                } else {
                    acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(_mm256_set1_ps(tail.dmin), dx),
                                              acc[r]);
                }
            } else {
                acc[r] = _mm256_fnmadd_ps(tail.m, _mm256_loadu_ps(xr.s[r] + k0), acc[r]);
            }
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_mul_ps(d, dx), acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) y[r * n_out] = hsum(acc[r]);
}

// Calls f(D{}) with the group decoder of wt and returns true; false if wt has none.
template <class F>
bool with_decoder(dtype wt, F&& f) {
    switch (wt) {
        case dtype::q8_0:
            return f(group_q8_0{}), true;
        case dtype::q4_0:
            return f(group_q4_0{}), true;
        case dtype::q4_1:
            return f(group_q4_1{}), true;
        case dtype::q5_0:
            return f(group_q5_0{}), true;
        case dtype::q5_1:
            return f(group_q5_1{}), true;
        case dtype::q4_k:
            return f(group_q4_k{}), true;
        case dtype::q5_k:
            return f(group_q5_k{}), true;
        case dtype::q6_k:
            return f(group_q6_k{}), true;
        case dtype::q2_k:
            return f(group_q2_k{}), true;
        case dtype::q3_k:
            return f(group_q3_k{}), true;
        case dtype::tq1_0:
            return f(group_tq1_0{}), true;
        case dtype::tq2_0:
            return f(group_tq2_0{}), true;
        case dtype::iq4_nl:
            return f(group_iq4_nl{}), true;
        case dtype::iq4_xs:
            return f(group_iq4_xs{}), true;
        case dtype::mxfp4:
            return f(group_mxfp4{}), true;
        case dtype::iq2_xxs:
            return f(group_iq2_xxs{}), true;
        case dtype::iq2_xs:
            return f(group_iq2_xs{}), true;
        case dtype::iq2_s:
            return f(group_iq2_s{}), true;
        case dtype::iq3_xxs:
            return f(group_iq3_xxs{}), true;
        case dtype::iq3_s:
            return f(group_iq3_s{}), true;
        case dtype::iq1_s:
            return f(group_iq1_s{}), true;
        case dtype::iq1_m:
            return f(group_iq1_m{}), true;
        default:
            return false;
    }
}

bool has_q8(dtype wt) {
    return with_decoder(wt, [](auto) {});
}

template <class D, int R>
void weight_row(const uint8_t* w, int64_t nb, const act_q8& a, int64_t r0, float* y, int64_t n_out) {
    if constexpr (D::k_int_sums)
        row_q8_int<D, R>(w, nb, a, r0, y, n_out);
    else
        row_q8<D, R>(w, nb, a, r0, y, n_out);
}

template <class D>
void matmul_rows(const uint8_t* w, size_t row_bytes, int64_t o_begin, int64_t o_end, int64_t n_out, const act_q8& a,
                 int64_t n_rows, float* y) {
    // Blocks of weight rows stay in L2 while every tile of activation rows passes over them.
    const int64_t ob = std::max<int64_t>(1, static_cast<int64_t>(k_block_bytes / row_bytes));
    const int64_t nb = a.n_in / 32;
    for (int64_t o0 = o_begin; o0 < o_end; o0 += ob) {
        for (int64_t r0 = 0; r0 < n_rows; r0 += k_max_rows) {
            for (int64_t o = o0; o < std::min(o_end, o0 + ob); ++o) {
                const uint8_t* wr = w + o * row_bytes;
                float* yo = y + r0 * n_out + o;
                switch (std::min<int64_t>(k_max_rows, n_rows - r0)) {
                    case 1:
                        weight_row<D, 1>(wr, nb, a, r0, yo, n_out);
                        break;
                    case 2:
                        weight_row<D, 2>(wr, nb, a, r0, yo, n_out);
                        break;
                    case 3:
                        weight_row<D, 3>(wr, nb, a, r0, yo, n_out);
                        break;
                    default:
                        weight_row<D, 4>(wr, nb, a, r0, yo, n_out);
                        break;
                }
            }
        }
    }
}

void matmul_q8(dtype wt, const uint8_t* w, size_t row_bytes, int64_t o_begin, int64_t o_end, int64_t n_out,
               const act_q8& a, int64_t n_rows, float* y) {
    with_decoder(wt, [&](auto d) { matmul_rows<decltype(d)>(w, row_bytes, o_begin, o_end, n_out, a, n_rows, y); });
}

// Writes one 32-element step: element e is w[e] * ws[e / 4] - (e < 16 ? m_lo : m_hi).
inline void store_step(float* y, __m256i w, __m256 ws, float m_lo, float m_hi) {
    const __m128i h[2] = {_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)};
    for (int g = 0; g < 4; ++g) {
        const __m128i b = g % 2 == 0 ? h[g / 2] : _mm_srli_si128(h[g / 2], 8);
        const __m256 s = _mm256_permutevar8x32_ps(
            ws, _mm256_setr_epi32(2 * g, 2 * g, 2 * g, 2 * g, 2 * g + 1, 2 * g + 1, 2 * g + 1, 2 * g + 1));
        const __m256 m = _mm256_set1_ps(g < 2 ? m_lo : m_hi);
        _mm256_storeu_ps(y + 8 * g, _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s, m));
    }
}

// Decodes n elements through the matmul's group decoders: code * scale - min, one rounding.
template <class D>
void dequantize_groups(const uint8_t* row, int64_t n, float* y) {
    const int64_t nb = n / 32;
    for (int64_t g = 0; 8 * g < nb; ++g) {
        __m256i codes[8];
        __m256 scale[8];
        alignas(32) float mins[16] = {};  // per 16 elements
        int64_t n_steps = 0;
        const auto put_step = [&](int64_t j, __m256i w, __m256 ws) {
            codes[j] = w;
            scale[j] = ws;
            n_steps = j + 1;
        };
        const auto mins_per_step = [&](__m256 m8) {  // both halves of step j lose m8[j]
            alignas(32) float m[8];
            _mm256_store_ps(m, m8);
            for (int j = 0; j < 8; ++j) mins[2 * j] = mins[2 * j + 1] = m[j];
        };
        if constexpr (D::k_int_sums) {
            // Step j's scale on elements 4i..4i+3 is d times sc16 lanes 2i and 2i + 1 (equal): d / 2
            // times their sum, exactly d * sc in one rounding.
            const auto step = [&](int j, __m256i w, __m256i sc16, __m256i signs = __m256i{}) {
                if constexpr (D::k_signs) w = _mm256_sign_epi8(w, signs);
                put_step(j, w, _mm256_cvtepi32_ps(_mm256_madd_epi16(sc16, _mm256_set1_epi16(1))));
            };
            const k_tail tail = D::group(row, g, step);
            for (int64_t j = 0; j < n_steps; ++j) scale[j] = _mm256_mul_ps(scale[j], _mm256_set1_ps(0.5f * tail.d));
            if constexpr (D::k_half_mins) {
                const __m256 ms = _mm256_set1_ps(D::k_mins_in_d ? tail.d : tail.dmin);
                const __m128i lo = _mm256_castsi256_si128(tail.mins16), hi = _mm256_extracti128_si256(tail.mins16, 1);
                _mm256_store_ps(mins, _mm256_mul_ps(ms, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(lo))));
                _mm256_store_ps(mins + 8, _mm256_mul_ps(ms, _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(hi))));
            } else {
                mins_per_step(tail.m);
            }
        } else {
            __m256 ws8 = _mm256_setzero_ps();
            const auto scales = [&](__m256 s) { ws8 = s; };
            const auto step = [&](int64_t j, __m256i w) {
                put_step(j, w, _mm256_permutevar8x32_ps(ws8, _mm256_set1_epi32(static_cast<int>(j))));
            };
            D::group(row, g, nb, scales, step, mins_per_step);
        }
        for (int64_t j = 0; j < n_steps; ++j)
            store_step(y + 256 * g + 32 * j, codes[j], scale[j], mins[2 * j], mins[2 * j + 1]);
    }
}

// Stores 32 signed codes (values in [-128, 127]) times d: y = d * code, one rounding, as the reference.
inline void store_block(float* y, __m128i lo16, __m128i hi16, __m256 d) {
    const __m128i c[4] = {lo16, _mm_srli_si128(lo16, 8), hi16, _mm_srli_si128(hi16, 8)};
    for (int i = 0; i < 4; ++i)
        _mm256_storeu_ps(y + 8 * i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(c[i])), d));
}

// The KV cache's quantized types, block by block (each block's scale is uniform over its 32
// elements, so the group decoders' per-lane scale shuffles are not needed).
void dequantize_q8_0(const block_q8_0* b, int64_t nb, float* y) {
    for (int64_t i = 0; i < nb; ++i, y += 32) {
        const __m128i* q = reinterpret_cast<const __m128i*>(b[i].qs);
        store_block(y, _mm_loadu_si128(q), _mm_loadu_si128(q + 1), _mm256_set1_ps(h2f(b[i].d)));
    }
}

void dequantize_q4_0(const block_q4_0* b, int64_t nb, float* y) {
    const __m128i mask4 = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
    for (int64_t i = 0; i < nb; ++i, y += 32) {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].qs));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, mask4), eight);
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), mask4), eight);
        store_block(y, lo, hi, _mm256_set1_ps(h2f(b[i].d)));
    }
}

bool dequantize(dtype t, const void* src, float* dst, int64_t n) {
    const auto* p = static_cast<const uint8_t*>(src);
    switch (t) {
        case dtype::f16: {
            int64_t i = 0;
            for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_w8(t, p, i));
            for (; i < n; ++i) dst[i] = load_w1(t, p, i);
            return true;
        }
        case dtype::q8_0:
            return dequantize_q8_0(static_cast<const block_q8_0*>(src), n / 32, dst), true;
        case dtype::q4_0:
            return dequantize_q4_0(static_cast<const block_q4_0*>(src), n / 32, dst), true;
        case dtype::q4_1:  // code * d + m rounds twice in the reference: no fused decode can match it
        case dtype::q5_1:
            return false;
        default:
            return with_decoder(t, [&](auto d) { dequantize_groups<decltype(d)>(p, n, dst); });
    }
}

}  // namespace

const kernel_table* avx2_kernels() {
    static const kernel_table table{cpu_level::avx2,
                                    1,
                                    true,
                                    has_q8,
                                    quantize_act,
                                    act_block,
                                    matmul_q8,
                                    avx2_has_float,
                                    avx2_matmul_float,
                                    dequantize,
                                    avx2_attention(),
                                    avx2_activations(),
                                    avx2_has_packed,
                                    avx2_matmul_packed,
                                    avx2_matmul_packed_float,
                                    avx2_arrange_packed_float_act};
    return &table;
}

}  // namespace tandem::cpu
