// Reference dequantizers of the IQ1 / IQ2 / IQ3 codebook types, written from the ggml block
// definitions. Each super-block of 256 holds 8 groups of 32; a group is 4 points of 8 elements (or 8
// points of 4) taken from the type's codebook (kernels/iq_grids.h), a sign per element and a scale.
// A value is scale * code with one rounding, so these agree bitwise with llama.cpp's decoders
// (tests/kernels/test_decoders_peer.cpp).
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/iq_grids.h"
#include "kernels/ref/iq_ref.h"

namespace tandem::ref {
namespace {

// n elements of a point of magnitudes, negated where bit k of signs is set.
void put_signed(float* y, float scale, uint64_t point, int n, unsigned signs) {
    for (int k = 0; k < n; ++k) {
        const auto code = static_cast<float>(iq_point_byte(point, k));
        y[k] = scale * ((signs >> k) & 1 ? -code : code);
    }
}

uint32_t load_u32(const void* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace

// iq2_xxs: group g reads 8 bytes at qs + 4g: bytes 0-3 index the 4 points of elements 8l .. 8l + 7,
// the 32 bits after them hold the 4 seven-bit sign patterns (bits 7l ..) and the scale s (top 4
// bits): value d * (s + 1/2) / 4 * code.
void deq_iq2_xxs(const void* src, float* y, int64_t n) {
    const auto* b = static_cast<const block_iq2_xxs*>(src);
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int g = 0; g < 8; ++g, y += 32) {
            const auto* q = reinterpret_cast<const uint8_t*>(b[i].qs + 4 * g);
            const uint32_t aux = load_u32(q + 4);
            const float dl = d * (0.5f + static_cast<float>(aux >> 28)) * 0.25f;
            for (int l = 0; l < 4; ++l)
                put_signed(y + 8 * l, dl, k_iq2xxs_grid[q[l]], 8, iq_signs(static_cast<int>(aux >> (7 * l)) & 127));
        }
    }
}

namespace {

struct point_signs {
    uint64_t point;
    unsigned signs;
};

// iq2_xs and iq2_s: point l of group g is point(b, g, l) = {codebook point, its 8 signs}; scales[g]
// holds the scales of elements 0-15 (low nibble) and 16-31 (high): value d * (s + 1/2) / 4 * code.
template <class B, class P>
void deq_iq2_scaled(const B* b, float* y, int64_t n, P&& point) {
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int g = 0; g < 8; ++g, y += 32) {
            for (int l = 0; l < 4; ++l) {
                const int s = (b[i].scales[g] >> (4 * (l / 2))) & 0xf;
                const float dl = d * (0.5f + static_cast<float>(s)) * 0.25f;
                const auto [p, signs] = point(b[i], g, l);
                put_signed(y + 8 * l, dl, p, 8, signs);
            }
        }
    }
}

}  // namespace

// iq2_xs: qs[4g + l] is a 9-bit point index and a 7-bit sign pattern.
void deq_iq2_xs(const void* src, float* y, int64_t n) {
    deq_iq2_scaled(static_cast<const block_iq2_xs*>(src), y, n, [](const block_iq2_xs& b, int g, int l) {
        const uint16_t q = b.qs[4 * g + l];
        return point_signs{k_iq2xs_grid[q & 511], iq_signs(q >> 9)};
    });
}

// iq2_s: point l of group g has index qs[4g + l] | bits 2l, 2l + 1 of qh[g] as bits 8, 9, and its 8
// signs are the byte qs[32 + 4g + l].
void deq_iq2_s(const void* src, float* y, int64_t n) {
    deq_iq2_scaled(static_cast<const block_iq2_s*>(src), y, n, [](const block_iq2_s& b, int g, int l) {
        const int index = b.qs[4 * g + l] | ((b.qh[g] >> (2 * l)) & 3) << 8;
        return point_signs{k_iq2s_grid[index], b.qs[32 + 4 * g + l]};
    });
}

// iq3_xxs: qs[8g + m] indexes the 4-element point m of group g; the 32 bits at qs + 64 + 4g hold 4
// seven-bit sign patterns (one per 8 elements) and the scale s (top 4 bits): value d * (s + 1/2) / 2 * code.
void deq_iq3_xxs(const void* src, float* y, int64_t n) {
    const auto* b = static_cast<const block_iq3_xxs*>(src);
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int g = 0; g < 8; ++g, y += 32) {
            const uint32_t aux = load_u32(b[i].qs + 64 + 4 * g);
            const float dl = d * (0.5f + static_cast<float>(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; ++l) {
                const unsigned signs = iq_signs(static_cast<int>(aux >> (7 * l)) & 127);
                put_signed(y + 8 * l, dl, k_iq3xxs_grid[b[i].qs[8 * g + 2 * l]], 4, signs);
                put_signed(y + 8 * l + 4, dl, k_iq3xxs_grid[b[i].qs[8 * g + 2 * l + 1]], 4, signs >> 4);
            }
        }
    }
}

// iq3_s: point m of group g has index qs[8g + m] | bit m of qh[g] as bit 8; signs[4g + l] are the signs
// of elements 8l .. 8l + 7; groups 2p and 2p + 1 share scales[p] (low, high nibble): value d * (2s + 1) * code.
void deq_iq3_s(const void* src, float* y, int64_t n) {
    const auto* b = static_cast<const block_iq3_s*>(src);
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int g = 0; g < 8; ++g, y += 32) {
            const int s = (b[i].scales[g / 2] >> (4 * (g % 2))) & 0xf;
            const float dl = d * static_cast<float>(1 + 2 * s);
            for (int m = 0; m < 8; ++m) {
                const int index = b[i].qs[8 * g + m] | ((b[i].qh[g] >> m) & 1) << 8;
                put_signed(y + 4 * m, dl, k_iq3s_grid[index], 4, b[i].signs[4 * g + m / 2] >> (4 * (m % 2)));
            }
        }
    }
}

// iq1_s: point l of group g has index qs[4g + l] | bits 3l .. 3l + 2 of qh[g] as bits 8-10; qh[g]'s
// bits 12-14 are the scale s and bit 15 the sign of the offset: value d * (2s + 1) * (code +- 1/8).
void deq_iq1_s(const void* src, float* y, int64_t n) {
    const auto* b = static_cast<const block_iq1_s*>(src);
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int g = 0; g < 8; ++g, y += 32) {
            const unsigned qh = b[i].qh[g];
            const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -k_iq1_delta : k_iq1_delta;
            for (int l = 0; l < 4; ++l) {
                const uint64_t point = k_iq1s_grid[b[i].qs[4 * g + l] | ((qh >> (3 * l)) & 7) << 8];
                for (int k = 0; k < 8; ++k) y[8 * l + k] = dl * (static_cast<float>(iq_point_byte(point, k)) + delta);
            }
        }
    }
}

// iq1_m: d is the f16 whose 4 nibbles are the top nibbles of the 16-bit words of scales; group g's
// elements 0-15 and 16-31 take 3-bit scales at bits 6(g % 2) and 6(g % 2) + 3 of word g / 2. Point l
// of group g has index qs[4g + l] | 3 bits of qh[2g + l / 2] (bits 0-2 for even l, 4-6 for odd) as
// bits 8-10, and the bit above them is the sign of its offset: value d * (2s + 1) * (code +- 1/8).
void deq_iq1_m(const void* src, float* y, int64_t n) {
    const auto* b = static_cast<const block_iq1_m*>(src);
    for (int64_t i = 0; i < n / k_qk_k; ++i) {
        uint16_t sc[4];
        std::memcpy(sc, b[i].scales, sizeof sc);
        const float d = fp16_to_f32(
            static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0xf0) | ((sc[2] >> 4) & 0xf00) | (sc[3] & 0xf000)));
        for (int g = 0; g < 8; ++g, y += 32) {
            for (int l = 0; l < 4; ++l) {
                const int s = (sc[g / 2] >> (6 * (g % 2) + 3 * (l / 2))) & 7;
                const float dl = d * static_cast<float>(2 * s + 1);
                const unsigned qh = b[i].qh[2 * g + l / 2] >> (4 * (l % 2));
                const float delta = qh & 8 ? -k_iq1_delta : k_iq1_delta;
                const uint64_t point = k_iq1s_grid[b[i].qs[4 * g + l] | (qh & 7) << 8];
                for (int k = 0; k < 8; ++k) y[8 * l + k] = dl * (static_cast<float>(iq_point_byte(point, k)) + delta);
            }
        }
    }
}

}  // namespace tandem::ref
