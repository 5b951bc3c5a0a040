// Scalar f16 (IEEE binary16) and bf16 conversions, bit exact, shared by the reference and the
// SIMD files (which use them for per-block scales).
#pragma once

#include <cstdint>
#include <cstring>

namespace tandem {

inline float bits_to_f32(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline uint32_t f32_to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

inline float fp16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000 | (man << 13));  // inf / nan
    if (exp != 0) return bits_to_f32(sign | ((exp + 112) << 23) | (man << 13));
    if (man == 0) return bits_to_f32(sign);
    // Subnormal: value = man * 2^-24, exact in f32.
    const float v = static_cast<float>(man) * bits_to_f32(0x33800000);
    return sign ? -v : v;
}

// Round to nearest even; overflow gives inf, nan stays nan.
inline uint16_t f32_to_fp16(float f) {
    const uint32_t u = f32_to_bits(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
    const uint32_t a = u & 0x7fffffff;
    if (a > 0x7f800000) return sign | 0x7e00;   // nan
    if (a >= 0x477ff000) return sign | 0x7c00;  // rounds to >= 65536: inf
    if (a >= 0x38800000) {                      // normal f16
        const uint32_t r = a + 0x0fff + ((a >> 13) & 1) - (112u << 23);
        return static_cast<uint16_t>(sign | (r >> 13));
    }
    if (a < 0x33000000) return sign;  // below half the smallest subnormal
    // Subnormal f16: shift the full mantissa, round to nearest even.
    const uint32_t e = a >> 23;
    const uint32_t m = (a & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return static_cast<uint16_t>(sign | q);
}

inline float bf16_to_f32(uint16_t h) {
    return bits_to_f32(static_cast<uint32_t>(h) << 16);
}

inline uint16_t f32_to_bf16(float f) {
    const uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet nan
    return static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

}  // namespace tandem
