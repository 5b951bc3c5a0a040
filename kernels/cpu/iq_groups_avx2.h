// AVX2 super-block decoders of the IQ1 / IQ2 / IQ3 codebook types for the int8 matmul (the
// k_int_sums decoders of kernels_avx2.cpp; include only from files compiled with -mavx2).
//
// Each value is D * S * C: a float D per super-block (d / 8 for the IQ2 and IQ1 types, d / 4 for
// iq3_xxs, d for iq3_s), an odd integer scale S per 16 elements (2s + 1) and a signed code C: a
// codebook magnitude with its sign, or for the IQ1 types 8 * point +- 1 (their offset of 1/8). So a
// super-block sums exactly in integers, as the K-quants do: |C| <= 62 keeps maddubs's pair sums
// within int16 and S <= 31 the madd sums within int32. D * S rounds as the reference's scale does,
// so dequantizing through these gives the reference's values bitwise. A step hands over |C| (the
// unsigned operand of maddubs) and the sign of C as +-1 bytes, which the kernel puts on the
// activations (sign(x, s)): no sign trick on the weights.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/cpu/avx2_common.h"
#include "kernels/iq_grids.h"

namespace tandem::cpu {

// The +-1 bytes of a 7-bit sign pattern (with its parity bit: iq_signs), one 8-element group.
constexpr auto k_iq_sign_bytes = [] {
    struct {
        uint64_t v[128];
    } t{};
    for (int p = 0; p < 128; ++p) {
        for (int k = 0; k < 8; ++k) t.v[p] |= uint64_t{(iq_signs(p) >> k) & 1 ? 0xffu : 0x01u} << (8 * k);
    }
    return t;
}();

// The signs of 4 groups of 8 from their seven-bit patterns.
inline __m256i iq_pattern_signs(int p0, int p1, int p2, int p3) {
    const auto m = [&](int p) { return static_cast<int64_t>(k_iq_sign_bytes.v[p]); };
    return _mm256_setr_epi64x(m(p0), m(p1), m(p2), m(p3));
}
// The same from the 4 patterns at bits 0, 7, 14 and 21 of bits.
inline __m256i iq_pattern_signs(uint32_t bits) {
    return iq_pattern_signs(bits & 127, (bits >> 7) & 127, (bits >> 14) & 127, (bits >> 21) & 127);
}

// The signs of 32 elements stored one bit each (set: negative), as +-1 bytes.
inline __m256i iq_bit_signs(uint32_t bits) {
    return _mm256_or_si256(bit_bytes(bits), _mm256_set1_epi8(1));
}

inline __m256i iq_points8(const uint64_t* grid, int i0, int i1, int i2, int i3) {
    return _mm256_setr_epi64x(static_cast<int64_t>(grid[i0]), static_cast<int64_t>(grid[i1]),
                              static_cast<int64_t>(grid[i2]), static_cast<int64_t>(grid[i3]));
}

// Scales of 16 elements as nibbles, one byte per step (iq2_xs, iq2_s: step j's elements 0-15 take the
// low nibble of byte j, 16-31 the high one): the 16 values 2s + 1 as int16, in step order, made once per
// super-block (their block_state); iq_nibble_scales then picks a step's two with one byte shuffle (a pair
// of broadcasts and an insert per step were the slowest part of these decoders).
inline __m256i iq_nibble_scales16(const uint8_t* bytes8) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes8));
    const __m128i mask4 = _mm_set1_epi8(0x0f);
    const __m128i nibbles = _mm_unpacklo_epi8(_mm_and_si128(b, mask4), _mm_and_si128(_mm_srli_epi16(b, 4), mask4));
    const __m256i s = _mm256_cvtepu8_epi16(nibbles);  // lane 2j: low nibble of byte j, 2j + 1: high
    return _mm256_add_epi16(_mm256_add_epi16(s, s), _mm256_set1_epi16(1));
}
// The int16 scales of step j from iq_nibble_scales16 (or group_iq1_m's block_state): lanes 0-7
// (elements 0-15) its first, 8-15 its second. The pair is dword j, broadcast by a variable permute (j
// need not be a compile-time constant).
inline __m256i iq_nibble_scales(__m256i s16, int j) {
    const __m256i pair = _mm256_permutevar8x32_epi32(s16, _mm256_set1_epi32(j));
    return _mm256_shuffle_epi8(pair, _mm256_setr_m128i(_mm_set1_epi16(0x0100), _mm_set1_epi16(0x0302)));
}

// A step's code magnitudes, its int16 scales (lanes 0-7: elements 0-15, lanes 8-15: elements 16-31)
// and its codes' signs (+-1 bytes).
struct iq_step {
    __m256i magnitudes, scales, signs;
};

inline __m256i iq_scale16(int scale) {
    return _mm256_set1_epi16(static_cast<int16_t>(scale));
}

// The super-block decoder of block type B: Impl::block_state(b) is what every step shares (nothing
// unless Impl says otherwise), Impl::decode(b, state, j) gives step j, Impl::d(b) the float D.
template <class B, class Impl>
struct iq_group {
    static constexpr bool k_unsigned = true, k_int_sums = true, k_half_mins = false, k_signs = true;
    static constexpr int64_t k_group_bytes = sizeof(B);
    struct no_state {};
    static no_state block_state(const B&) { return {}; }
    template <class F>
    static k_tail group(const uint8_t* row, int64_t g, F&& step) {
        const B& b = reinterpret_cast<const B*>(row)[g];
        const auto state = Impl::block_state(b);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) {  // unrolled: j is a constant in decode
            const iq_step s = Impl::decode(b, state, j);
            step(j, s.magnitudes, s.scales, s.signs);
        }
        if constexpr (requires { Impl::mins(b); }) return {Impl::d(b), Impl::mins(b), _mm256_setzero_si256(), 0.0f};
        return {Impl::d(b), _mm256_setzero_ps(), _mm256_setzero_si256(), 0.0f};
    }
};

struct group_iq2_xxs : iq_group<block_iq2_xxs, group_iq2_xxs> {
    static float d(const block_iq2_xxs& b) { return h2f(b.d) * 0.125f; }
    static iq_step decode(const block_iq2_xxs& b, no_state, int j) {
        const auto* q = reinterpret_cast<const uint8_t*>(b.qs + 4 * j);
        const uint32_t aux = load_u32(q + 4);
        return {iq_points8(k_iq2xxs_grid, q[0], q[1], q[2], q[3]), iq_scale16(static_cast<int>(2 * (aux >> 28) + 1)),
                iq_pattern_signs(aux)};
    }
};

struct group_iq2_xs : iq_group<block_iq2_xs, group_iq2_xs> {
    static float d(const block_iq2_xs& b) { return h2f(b.d) * 0.125f; }
    static __m256i block_state(const block_iq2_xs& b) { return iq_nibble_scales16(b.scales); }
    static iq_step decode(const block_iq2_xs& b, __m256i scales16, int j) {
        const uint16_t* q = b.qs + 4 * j;
        return {iq_points8(k_iq2xs_grid, q[0] & 511, q[1] & 511, q[2] & 511, q[3] & 511), iq_nibble_scales(scales16, j),
                iq_pattern_signs(q[0] >> 9, q[1] >> 9, q[2] >> 9, q[3] >> 9)};
    }
};

struct group_iq2_s : iq_group<block_iq2_s, group_iq2_s> {
    static float d(const block_iq2_s& b) { return h2f(b.d) * 0.125f; }
    static __m256i block_state(const block_iq2_s& b) { return iq_nibble_scales16(b.scales); }
    static iq_step decode(const block_iq2_s& b, __m256i scales16, int j) {
        const uint8_t* q = b.qs + 4 * j;
        const int h = b.qh[j];
        const __m256i mag = iq_points8(k_iq2s_grid, q[0] | (h & 3) << 8, q[1] | (h & 0xc) << 6, q[2] | (h & 0x30) << 4,
                                       q[3] | (h & 0xc0) << 2);
        return {mag, iq_nibble_scales(scales16, j), iq_bit_signs(load_u32(b.qs + 32 + 4 * j))};
    }
};

// Eight 4-element points as one register.
template <class I>
inline __m256i iq_points4(const uint32_t* grid, I&& index) {
    const auto p = [&](int m) { return static_cast<int>(grid[index(m)]); };
    return _mm256_setr_epi32(p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7));
}

struct group_iq3_xxs : iq_group<block_iq3_xxs, group_iq3_xxs> {
    static float d(const block_iq3_xxs& b) { return h2f(b.d) * 0.25f; }
    static iq_step decode(const block_iq3_xxs& b, no_state, int j) {
        const uint8_t* q = b.qs + 8 * j;
        const uint32_t aux = load_u32(b.qs + 64 + 4 * j);
        return {iq_points4(k_iq3xxs_grid, [&](int m) { return q[m]; }),
                iq_scale16(static_cast<int>(2 * (aux >> 28) + 1)), iq_pattern_signs(aux)};
    }
};

struct group_iq3_s : iq_group<block_iq3_s, group_iq3_s> {
    static float d(const block_iq3_s& b) { return h2f(b.d); }
    static iq_step decode(const block_iq3_s& b, no_state, int j) {
        const uint8_t* q = b.qs + 8 * j;
        const int h = b.qh[j];
        const __m256i mag = iq_points4(k_iq3s_grid, [&](int m) { return q[m] | ((h >> m) & 1) << 8; });
        const int s = (b.scales[j / 2] >> (4 * (j % 2))) & 0xf;
        return {mag, iq_scale16(2 * s + 1), iq_bit_signs(load_u32(b.signs + 4 * j))};
    }
};

// The IQ1 codes 8 * point + 1, or - 1 where the point's offset is negative (neg: 0xff bytes), as a
// step (never 0, so a code is its own sign).
inline iq_step iq1_step(__m256i points, __m256i neg, __m256i scales) {
    const __m256i eight = _mm256_sign_epi8(_mm256_set1_epi8(8), points);
    const __m256i codes = _mm256_add_epi8(eight, _mm256_or_si256(neg, _mm256_set1_epi8(1)));
    return {_mm256_abs_epi8(codes), scales, codes};
}

// iq1_s splits its codes 8 * point +- 1: the points (bytes -1, 0, 1) are the signs of a step whose
// magnitudes are all 1 and whose scale is 8 (2s + 1), and the offsets, one sign per 32 elements, meet
// the activations' block sums in the tail as mins (D (2s + 1) for a negative offset, minus that for a
// positive one): a step takes a sign, a maddubs and a madd, where whole codes took four more.
struct group_iq1_s : iq_group<block_iq1_s, group_iq1_s> {
    static float d(const block_iq1_s& b) { return h2f(b.d) * 0.125f; }
    static iq_step decode(const block_iq1_s& b, no_state, int j) {
        const uint8_t* q = b.qs + 4 * j;
        const int h = b.qh[j];
        const __m256i points = iq_points8(k_iq1s_grid, q[0] | (h & 7) << 8, q[1] | (h & 0x38) << 5,
                                          q[2] | (h & 0x1c0) << 2, q[3] | (h & 0xe00) >> 1);
        return {_mm256_set1_epi8(1), iq_scale16(8 * (2 * ((h >> 12) & 7) + 1)), points};
    }
    static __m256 mins(const block_iq1_s& b) {
        const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qh)));
        const __m256i scale =
            _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 12), _mm256_set1_epi32(7)), 1),
                            _mm256_set1_epi32(1));
        const __m256i positive = _mm256_slli_epi32(_mm256_andnot_si256(v, _mm256_set1_epi32(0x8000)), 16);
        const __m256 m = _mm256_mul_ps(_mm256_set1_ps(d(b)), _mm256_cvtepi32_ps(scale));
        return _mm256_xor_ps(m, _mm256_castsi256_ps(positive));  // sign bit set where the offset is +1/8
    }
};

struct group_iq1_m : iq_group<block_iq1_m, group_iq1_m> {
    static uint16_t word(const block_iq1_m& b, int k) {
        uint16_t w;
        std::memcpy(&w, b.scales + 2 * k, 2);
        return w;
    }
    static float d(const block_iq1_m& b) {
        return h2f(static_cast<uint16_t>((word(b, 0) >> 12) | ((word(b, 1) >> 8) & 0xf0) | ((word(b, 2) >> 4) & 0xf00) |
                                         (word(b, 3) & 0xf000))) *
               0.125f;
    }
    // The 16 scales as 2s + 1 in int16 lanes, for iq_nibble_scales (step j's pair is lanes 2j, 2j + 1):
    // scale k is bits 3(k % 4) .. 3(k % 4) + 2 of word k / 4, moved to bits 13-15 by a multiply and
    // shifted down (AVX2 has no per-lane 16-bit shift).
    static __m256i block_state(const block_iq1_m& b) {
        const __m256i words = _mm256_broadcastsi128_si256(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.scales)));
        const __m256i w = _mm256_shuffle_epi8(words, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 4,
                                                                      5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7));
        const __m256i s =
            _mm256_srli_epi16(_mm256_mullo_epi16(w, _mm256_setr_epi16(1 << 13, 1 << 10, 1 << 7, 1 << 4, 1 << 13,
                                                                      1 << 10, 1 << 7, 1 << 4, 1 << 13, 1 << 10, 1 << 7,
                                                                      1 << 4, 1 << 13, 1 << 10, 1 << 7, 1 << 4)),
                              13);
        return _mm256_add_epi16(_mm256_add_epi16(s, s), _mm256_set1_epi16(1));
    }
    static iq_step decode(const block_iq1_m& b, __m256i scales16, int j) {
        const uint8_t* q = b.qs + 4 * j;
        const int h0 = b.qh[2 * j], h1 = b.qh[2 * j + 1];
        const __m256i points = iq_points8(k_iq1s_grid, q[0] | (h0 & 7) << 8, q[1] | (h0 & 0x70) << 4,
                                          q[2] | (h1 & 7) << 8, q[3] | (h1 & 0x70) << 4);
        // Point l's offset sign is bit 3 or 7 of h0 or h1: one compare for the four.
        const __m256i signs = _mm256_setr_epi64x(0x8, 0x80, 0x800, 0x8000);
        const __m256i neg = _mm256_cmpeq_epi64(_mm256_and_si256(_mm256_set1_epi64x(h0 | h1 << 8), signs), signs);
        return iq1_step(points, neg, iq_nibble_scales(scales16, j));
    }
};

}  // namespace tandem::cpu
