// Block layouts of the quantized GGUF types (ggml's block definitions). Scales are f16 bit patterns.
// Element order inside each block is documented next to the reference dequantizer (ref/dequant_ref.cpp).
#pragma once

#include <cstdint>
#include <cstring>

namespace tandem {

constexpr int k_qk = 32;     // elements per block of the *_0 / *_1 types
constexpr int k_qk_k = 256;  // elements per K-quant super-block

struct block_q4_0 {
    uint16_t d;
    uint8_t qs[16];  // element j: low nibble of qs[j]; element j + 16: high nibble; value (q - 8) * d
};
struct block_q4_1 {
    uint16_t d, m;
    uint8_t qs[16];  // as q4_0, value q * d + m
};
struct block_q5_0 {
    uint16_t d;
    uint8_t qh[4];   // little-endian u32; bit j = 5th bit of element j (j < 32)
    uint8_t qs[16];  // value (q - 16) * d
};
struct block_q5_1 {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];  // value q * d + m
};
struct block_q8_0 {
    uint16_t d;
    int8_t qs[32];
};
struct block_q4_k {
    uint16_t d, dmin;
    uint8_t scales[12];  // 8 six-bit scales and 8 six-bit mins
    uint8_t qs[128];
};
struct block_q5_k {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
struct block_q6_k {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
};

// q2_K: 16 sub-blocks of 16; scales[i]: low nibble the scale, high nibble the min of sub-block i.
struct block_q2_k {
    uint8_t scales[16];
    uint8_t qs[64];  // 2-bit codes, layout next to its decoder
    uint16_t d, dmin;
};
// q3_K: 16 sub-blocks of 16 with signed 6-bit scales (minus 32) packed in 12 bytes; a code is 2 bits
// of qs plus a high bit from hmask, value d * scale * (q - 4 if the hmask bit is clear, else q).
struct block_q3_k {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;
};
// iq4_nl: as q4_0, but a nibble indexes a non-linear table (k_iq4nl_values) times d.
struct block_iq4_nl {
    uint16_t d;
    uint8_t qs[16];
};
// iq4_xs: 8 sub-blocks of 32 in iq4_nl's nibble order, each with a 6-bit scale (minus 32): its low 4
// bits in scales_l, its high 2 bits in scales_h.
struct block_iq4_xs {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[4];
    uint8_t qs[128];
};
// mxfp4 (OCP microscaling): an E8M0 exponent shared by 32 FP4 (E2M1) codes in q4_0's nibble order.
struct block_mxfp4 {
    uint8_t e;
    uint8_t qs[16];
};

// q1_0: 128 signs, element j is bit j % 8 of qs[j / 8]: value d where set, -d where clear.
struct block_q1_0 {
    uint16_t d;
    uint8_t qs[16];
};
// q2_0: 64 ternary codes, element j is bits 2 * (j % 4) .. +1 of qs[j / 4]: value (code - 1) * d.
struct block_q2_0 {
    uint16_t d;
    uint8_t qs[16];
};
// tq1_0: 256 ternary codes packed five per byte in qs (bytes 0-31 hold elements 0-159, digit n of
// byte m being element 32n + m; bytes 32-47 elements 160-239 likewise in 16s) and four per byte in qh
// (digit n of qh[m] is element 240 + 4n + m); digit n of byte b is ((b * 3^n) mod 256) * 3 / 256.
struct block_tq1_0 {
    uint8_t qs[48];
    uint8_t qh[4];
    uint16_t d;
};
// tq2_0: 256 ternary codes in two halves of 128: element 32l + m of half h is bits 2l .. 2l + 1 of
// qs[32h + m]; value (code - 1) * d.
struct block_tq2_0 {
    uint8_t qs[64];
    uint16_t d;
};

// The IQ1 / IQ2 / IQ3 types: 256 elements in 8 groups of 32 whose codes come from a codebook
// (kernels/iq_grids.h) of 8- or 4-element points, with signs and scales per group. The element order
// and values are documented at their reference decoders (ref/dequant_ref.cpp).
struct block_iq2_xxs {
    uint16_t d;
    uint16_t qs[32];  // group g: qs[4g .. 4g + 1] 4 point indices, qs[4g + 2 .. 4g + 3] signs and scale
};
struct block_iq2_xs {
    uint16_t d;
    uint16_t qs[32];  // 9-bit point index, 7-bit sign pattern
    uint8_t scales[8];
};
struct block_iq2_s {
    uint16_t d;
    uint8_t qs[64];  // 32 point indices' low 8 bits, then 32 sign bytes
    uint8_t qh[8];
    uint8_t scales[8];
};
struct block_iq3_xxs {
    uint16_t d;
    uint8_t qs[96];  // 64 point indices, then 8 x 32 bits of signs and scale
};
struct block_iq3_s {
    uint16_t d;
    uint8_t qs[64];
    uint8_t qh[8];
    uint8_t signs[32];
    uint8_t scales[4];
};
struct block_iq1_s {
    uint16_t d;
    uint8_t qs[32];
    uint16_t qh[8];
};
struct block_iq1_m {  // no d field: its f16 bits are the top nibbles of the four 16-bit scale words
    uint8_t qs[32];
    uint8_t qh[16];
    uint8_t scales[8];
};

// A 7-bit sign pattern of iq2_xxs / iq2_xs / iq3_xxs with its parity as bit 7 (the number of negative
// elements of a group of 8 is even).
constexpr uint8_t iq_signs(int pattern) {
    return static_cast<uint8_t>(pattern | (__builtin_popcount(static_cast<unsigned>(pattern)) & 1) << 7);
}
// The offset that iq1_s / iq1_m add to each code, as a fraction of the scale.
constexpr float k_iq1_delta = 0.125f;

// The 16 values of an iq4_nl / iq4_xs nibble (GGUF's non-linear 4-bit codebook).
constexpr int8_t k_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
// The E2M1 values of an FP4 nibble, doubled to integers (0, 0.5, 1, 1.5, 2, 3, 4, 6 and negatives);
// the block's scale is halved to match: 2^(e - 128).
constexpr int8_t k_mxfp4_values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20 && sizeof(block_q5_0) == 22);
static_assert(sizeof(block_q5_1) == 24 && sizeof(block_q8_0) == 34);
static_assert(sizeof(block_q4_k) == 144 && sizeof(block_q5_k) == 176 && sizeof(block_q6_k) == 210);
static_assert(sizeof(block_q2_k) == 84 && sizeof(block_q3_k) == 110 && sizeof(block_iq4_nl) == 18);
static_assert(sizeof(block_iq4_xs) == 136 && sizeof(block_mxfp4) == 17);
static_assert(sizeof(block_q1_0) == 18 && sizeof(block_q2_0) == 18 && sizeof(block_tq2_0) == 66);
static_assert(sizeof(block_tq1_0) == 54);
static_assert(sizeof(block_iq2_xxs) == 66 && sizeof(block_iq2_xs) == 74 && sizeof(block_iq2_s) == 82);
static_assert(sizeof(block_iq3_xxs) == 98 && sizeof(block_iq3_s) == 110);
static_assert(sizeof(block_iq1_s) == 50 && sizeof(block_iq1_m) == 56);

// Unpacks the 12-byte q4_K/q5_K scale field into 8 scales and 8 mins (6 bits each):
// sub-blocks 0..3 take the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 take
// the nibbles of bytes 8..11 as low bits and the top 2 bits of bytes 0..3 / 4..7 as high bits.
inline void unpack_k_scales(const uint8_t* s, uint8_t* sc, uint8_t* mn) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = static_cast<uint8_t>((s[j + 8] & 0xf) | ((s[j] >> 6) << 4));
        mn[j + 4] = static_cast<uint8_t>((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

// The 16 signed q3_K scales: scale i takes the low nibble (i < 8) or high nibble (i >= 8) of byte
// i % 8 as its low bits and bits 2 * (i / 4) .. +1 of byte 8 + i % 4 as its high bits, minus 32.
inline void unpack_q3_k_scales(const uint8_t* s, int* out) {
    for (int i = 0; i < 16; ++i) {
        const int lo = i < 8 ? (s[i] & 0xf) : (s[i - 8] >> 4);
        const int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = (lo | (hi << 4)) - 32;
    }
}

// unpack_k_scales on whole words: the 8 six-bit scales and the 8 mins as bytes of two u64.
inline void unpack_k_scales64(const uint8_t* s, uint64_t& sc, uint64_t& mn) {
    uint32_t a, b, c;
    std::memcpy(&a, s, 4);
    std::memcpy(&b, s + 4, 4);
    std::memcpy(&c, s + 8, 4);
    const uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    const uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    sc = (a & 0x3f3f3f3fu) | (static_cast<uint64_t>(sc_hi) << 32);
    mn = (b & 0x3f3f3f3fu) | (static_cast<uint64_t>(mn_hi) << 32);
}

}  // namespace tandem
