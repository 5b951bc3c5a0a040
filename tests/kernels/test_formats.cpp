// The reference kernels against the format definitions: f16/bf16 conversions against known bit
// patterns and the CPU's own converter, dequantization of hand-packed blocks, and quantize ->
// dequantize round trips with error bounds derived from the formats.
#include <gtest/gtest.h>
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/error.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

using test::test_seed;

TEST(Fp16, KnownValues) {
    EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);
    EXPECT_EQ(fp16_to_f32(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(fp16_to_f32(0x0400), std::ldexp(1.0f, -14));
    EXPECT_EQ(fp16_to_f32(0x3555), 0.333251953125f);
    EXPECT_TRUE(std::isinf(fp16_to_f32(0x7c00)));
    EXPECT_TRUE(std::isnan(fp16_to_f32(0x7e00)));
    EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie -> even
    EXPECT_EQ(f32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
    EXPECT_EQ(f32_to_fp16(65519.0f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
    EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
}

TEST(Bf16, KnownValues) {
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(bf16_to_f32(0xc0a0), -5.0f);
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie -> even
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
    EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

TEST(Fp16, AllHalvesRoundTrip) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = fp16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_fp16(f), h) << "h=" << h;
    }
}

__attribute__((target("f16c"))) uint16_t hw_f32_to_fp16(float f) {
    return _cvtss_sh(f, 0);
}
__attribute__((target("f16c"))) float hw_fp16_to_f32(uint16_t h) {
    return _cvtsh_ss(h);
}

TEST(Fp16, MatchesCpuConverter) {
    if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
    std::mt19937 rng(test_seed());
    SCOPED_TRACE("seed=" + std::to_string(test_seed()));
    for (uint32_t h = 0; h < 65536; ++h) {
        const float a = fp16_to_f32(static_cast<uint16_t>(h)), b = hw_fp16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(a)) continue;
        ASSERT_EQ(f32_to_bits(a), f32_to_bits(b)) << "h=" << h;
    }
    for (int i = 0; i < 200000; ++i) {
        const float f = bits_to_f32(rng());
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_fp16(f), hw_f32_to_fp16(f)) << "bits=" << f32_to_bits(f);
    }
}

// ---- hand-packed blocks: the test packs element codes following the spec, the reference unpacks ----

TEST(Dequant, Q4_0) {
    block_q4_0 b{};
    b.d = f32_to_fp16(0.5f);
    int code[32];
    for (int e = 0; e < 32; ++e) code[e] = (e * 7) % 16;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(code[j] | (code[j + 16] << 4));
    float y[32];
    ref::dequantize_row(dtype::q4_0, &b, y, 32);
    for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], (code[e] - 8) * 0.5f) << e;
}

// MXFP4 from the OCP Microscaling spec: an E8M0 exponent e scales by 2^(e - 127) the E2M1 values
// 0, 0.5, 1, 1.5, 2, 3, 4, 6 (codes 0-7; 8-15 their negatives).
TEST(Dequant, Mxfp4) {
    const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
    for (int e : {0, 100, 127, 130, 254}) {
        block_mxfp4 b{};
        b.e = static_cast<uint8_t>(e);
        int code[32];
        for (int i = 0; i < 32; ++i) code[i] = (i * 7 + 3) % 16;
        for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(code[j] | (code[j + 16] << 4));
        float y[32];
        ref::dequantize_row(dtype::mxfp4, &b, y, 32);
        for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], e2m1[code[i]] * std::ldexp(1.0f, e - 127)) << e << " " << i;
    }
}

// IQ4_NL: a nibble picks one of 16 fixed levels (GGUF's kvalues_iq4nl), times the block's f16 scale.
TEST(Dequant, Iq4Nl) {
    const int levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    block_iq4_nl b{};
    b.d = f32_to_fp16(0.25f);
    int code[32];
    for (int i = 0; i < 32; ++i) code[i] = (i * 5 + 1) % 16;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(code[j] | (code[j + 16] << 4));
    float y[32];
    ref::dequantize_row(dtype::iq4_nl, &b, y, 32);
    for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], levels[code[i]] * 0.25f) << i;
}

TEST(Dequant, Q4_1) {
    block_q4_1 b{};
    b.d = f32_to_fp16(0.25f);
    b.m = f32_to_fp16(-1.5f);
    int code[32];
    for (int e = 0; e < 32; ++e) code[e] = (e * 5 + 3) % 16;
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(code[j] | (code[j + 16] << 4));
    float y[32];
    ref::dequantize_row(dtype::q4_1, &b, y, 32);
    for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], code[e] * 0.25f - 1.5f) << e;
}

template <class B>
void pack_q5(B& b, const int* code) {
    uint32_t qh = 0;
    for (int e = 0; e < 32; ++e) qh |= static_cast<uint32_t>(code[e] >> 4) << e;  // bit e = 5th bit of element e
    std::memcpy(b.qh, &qh, 4);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((code[j] & 15) | ((code[j + 16] & 15) << 4));
}

TEST(Dequant, Q5_0AndQ5_1) {
    int code[32];
    for (int e = 0; e < 32; ++e) code[e] = (e * 13 + 5) % 32;
    block_q5_0 b0{};
    b0.d = f32_to_fp16(2.0f);
    pack_q5(b0, code);
    block_q5_1 b1{};
    b1.d = f32_to_fp16(0.125f);
    b1.m = f32_to_fp16(3.0f);
    pack_q5(b1, code);
    float y0[32], y1[32];
    ref::dequantize_row(dtype::q5_0, &b0, y0, 32);
    ref::dequantize_row(dtype::q5_1, &b1, y1, 32);
    for (int e = 0; e < 32; ++e) {
        EXPECT_EQ(y0[e], (code[e] - 16) * 2.0f) << e;
        EXPECT_EQ(y1[e], code[e] * 0.125f + 3.0f) << e;
    }
}

TEST(Dequant, Q8_0) {
    block_q8_0 b{};
    b.d = f32_to_fp16(0.0625f);
    for (int e = 0; e < 32; ++e) b.qs[e] = static_cast<int8_t>(e * 8 - 128);
    float y[32];
    ref::dequantize_row(dtype::q8_0, &b, y, 32);
    for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], (e * 8 - 128) * 0.0625f) << e;
}

// 12-byte scale field: bytes 0-3 hold scales 0-3 (low 6 bits) and the top 2 bits of scales 4-7;
// bytes 4-7 the same for mins; bytes 8-11 the low nibbles of scale (low) and min (high) 4-7.
void pack_k_scales(uint8_t* s, const int* sc, const int* mn) {
    for (int j = 0; j < 4; ++j) {
        s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

const int k_sc[8] = {1, 63, 17, 32, 48, 5, 33, 62};
const int k_mn[8] = {60, 2, 31, 16, 7, 49, 34, 63};

TEST(Dequant, Q4_K) {
    block_q4_k b{};
    b.d = f32_to_fp16(0.5f);
    b.dmin = f32_to_fp16(0.25f);
    pack_k_scales(b.scales, k_sc, k_mn);
    int code[256];
    for (int e = 0; e < 256; ++e) code[e] = (e * 11 + e / 64) % 16;
    // 64-element chunk c: elements 0-31 in the low nibbles of qs[32c..], 32-63 in the high nibbles.
    for (int e = 0; e < 256; ++e) {
        const int c = e / 64, l = e % 64;
        b.qs[32 * c + l % 32] |= static_cast<uint8_t>(l < 32 ? code[e] : code[e] << 4);
    }
    std::vector<float> y(256);
    ref::dequantize_row(dtype::q4_k, &b, y.data(), 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * k_sc[e / 32] * code[e] - 0.25f * k_mn[e / 32]) << e;
}

TEST(Dequant, Q5_K) {
    block_q5_k b{};
    b.d = f32_to_fp16(0.125f);
    b.dmin = f32_to_fp16(1.0f);
    pack_k_scales(b.scales, k_sc, k_mn);
    int code[256];
    for (int e = 0; e < 256; ++e) code[e] = (e * 7 + e / 32) % 32;
    for (int e = 0; e < 256; ++e) {
        const int c = e / 64, l = e % 64;
        b.qs[32 * c + l % 32] |= static_cast<uint8_t>(l < 32 ? (code[e] & 15) : (code[e] & 15) << 4);
        b.qh[l % 32] |= static_cast<uint8_t>((code[e] >> 4) << (2 * c + (l >= 32)));
    }
    std::vector<float> y(256);
    ref::dequantize_row(dtype::q5_k, &b, y.data(), 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.125f * k_sc[e / 32] * code[e] - 1.0f * k_mn[e / 32]) << e;
}

TEST(Dequant, Q6_K) {
    block_q6_k b{};
    b.d = f32_to_fp16(0.5f);
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j * 17 - 128);
    int code[256];
    for (int e = 0; e < 256; ++e) code[e] = (e * 29 + 3) % 64;
    // Half h = e / 128; within it element i: ql[64h + i % 64] (low nibble if i < 64), 2 high bits in
    // qh[32h + i % 32] at bit 2 * (i / 32); scale index e / 16; value d * scale * (code - 32).
    for (int e = 0; e < 256; ++e) {
        const int h = e / 128, i = e % 128;
        b.ql[64 * h + i % 64] |= static_cast<uint8_t>(i < 64 ? (code[e] & 15) : (code[e] & 15) << 4);
        b.qh[32 * h + i % 32] |= static_cast<uint8_t>((code[e] >> 4) << (2 * (i / 32)));
    }
    std::vector<float> y(256);
    ref::dequantize_row(dtype::q6_k, &b, y.data(), 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * b.scales[e / 16] * (code[e] - 32)) << e;
}

TEST(Dequant, PlainTypes) {
    const uint16_t h[2] = {0x3c00, 0xc100};   // f16 1.0, -2.5
    const uint16_t bf[2] = {0x3f80, 0xc020};  // bf16 1.0, -2.5
    float y[2];
    ref::dequantize_row(dtype::f16, h, y, 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.5f);
    ref::dequantize_row(dtype::bf16, bf, y, 2);
    EXPECT_EQ(y[0], 1.0f);
    EXPECT_EQ(y[1], -2.5f);
}

// ---- quantize -> dequantize round trips ----

std::vector<float> random_floats(std::mt19937& rng, int64_t n, float scale) {
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = nd(rng);
    return v;
}

TEST(RoundTrip, BlockTypesWithinFormatBounds) {
    const uint32_t seed = test_seed();
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::mt19937 rng(seed);
    const int64_t n = 32 * 64;
    for (float scale : {1e-3f, 1.0f, 50.0f}) {
        std::vector<float> x = random_floats(rng, n, scale);
        x[5] = 0;  // a block with an exact zero and one with all zeros
        std::fill(x.begin() + 64, x.begin() + 96, 0.0f);
        for (dtype t : {dtype::q8_0, dtype::q4_0, dtype::q4_1, dtype::q5_0, dtype::q5_1}) {
            SCOPED_TRACE(std::string(dtype_info_of(t).name));
            std::vector<uint8_t> enc(dtype_row_bytes(t, n));
            std::vector<float> y(static_cast<size_t>(n));
            quantize_row(t, x.data(), enc.data(), n);
            dequantize_row(t, enc.data(), y.data(), n);
            for (int64_t b = 0; b < n / 32; ++b) {
                const float* xb = x.data() + 32 * b;
                const uint8_t* blk = enc.data() + b * dtype_info_of(t).block_bytes;
                uint16_t d16, m16 = 0;
                std::memcpy(&d16, blk, 2);
                if (t == dtype::q4_1 || t == dtype::q5_1) std::memcpy(&m16, blk + 2, 2);
                const float d = std::fabs(fp16_to_f32(d16));
                float lo = xb[0], hi = xb[0], amax = 0;
                for (int j = 0; j < 32; ++j)
                    lo = std::min(lo, xb[j]), hi = std::max(hi, xb[j]), amax = std::max(amax, std::fabs(xb[j]));
                float bound;
                const float eps = 1e-6f * amax + 1e-30f;
                switch (t) {
                    case dtype::q8_0:  // codes -127..127, step d = amax / 127 (as f16)
                        EXPECT_NEAR(d, amax / 127, amax / 127 * 1e-3 + 1e-7);
                        bound = d / 2;
                        break;
                    case dtype::q4_0:
                    case dtype::q5_0:  // the extreme maps to the end code; the far end may clamp by one step
                        EXPECT_NEAR(d, amax / (t == dtype::q4_0 ? 8 : 16), amax * 1e-3 + 1e-7);
                        bound = d;
                        break;
                    default:  // min + d * code, d = (max - min) / (levels - 1)
                        bound = d / 2 + std::fabs(fp16_to_f32(m16) - lo);
                        EXPECT_NEAR(d, (hi - lo) / (t == dtype::q4_1 ? 15 : 31), (hi - lo) * 1e-3 + 1e-7);
                        break;
                }
                // d (and m) are stored as f16: a code c then carries c * |d| * 2^-11 of extra rounding.
                const float levels = t == dtype::q8_0   ? 127
                                     : t == dtype::q4_0 ? 8
                                     : t == dtype::q5_0 ? 16
                                     : t == dtype::q4_1 ? 15
                                                        : 31;
                bound += levels * d * 0x1p-11f;
                for (int j = 0; j < 32; ++j) {
                    ASSERT_LE(std::fabs(y[32 * b + j] - xb[j]), bound * 1.0001f + eps) << "block " << b << " j " << j;
                }
            }
        }
    }
}

TEST(RoundTrip, FloatTypes) {
    std::mt19937 rng(test_seed());
    SCOPED_TRACE("seed=" + std::to_string(test_seed()));
    const int64_t n = 1000;
    const std::vector<float> x = random_floats(rng, n, 3.0f);
    std::vector<uint16_t> enc(n);
    std::vector<float> y(n);
    quantize_row(dtype::f16, x.data(), enc.data(), n);
    dequantize_row(dtype::f16, enc.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_LE(std::fabs(y[i] - x[i]), std::fabs(x[i]) * std::ldexp(1.0f, -11) + 1e-7f);
    quantize_row(dtype::bf16, x.data(), enc.data(), n);
    dequantize_row(dtype::bf16, enc.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_LE(std::fabs(y[i] - x[i]), std::fabs(x[i]) * std::ldexp(1.0f, -8));
}

TEST(Quantize, RejectsUnsupported) {
    float x[256] = {};
    uint8_t out[1024];
    EXPECT_THROW(quantize_row(dtype::q4_k, x, out, 256), error);
    EXPECT_THROW(quantize_row(dtype::q8_0, x, out, 33), error);
}

}  // namespace
}  // namespace tandem
