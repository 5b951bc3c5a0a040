// Reference dequantizers for every computable type, written from the ggml block definitions.
#include <cstring>

#include "common/check.h"
#include "common/error.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/ref/ref.h"

namespace tandem::ref {
namespace {

void deq_q4_0(const block_q4_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b[i].qs[j] & 0xf) - 8) * d;
            y[j + 16] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void deq_q4_1(const block_q4_1* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(b[i].qs[j] & 0xf) * d + m;
            y[j + 16] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
        }
    }
}

// 5-bit types: bit j of qh is the high bit of element j, bit j + 16 that of element j + 16.
template <class B>
void deq_q5(const B* b, float* y, int64_t nb, bool has_min) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = fp16_to_f32(b[i].d);
        float m = -16.0f * d;
        if constexpr (requires { b[i].m; }) m = fp16_to_f32(b[i].m);
        uint32_t qh;
        std::memcpy(&qh, b[i].qh, 4);
        for (int j = 0; j < 16; ++j) {
            const int lo = (b[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
            const int hi = (b[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
            y[j] = has_min ? static_cast<float>(lo) * d + m : static_cast<float>(lo - 16) * d;
            y[j + 16] = has_min ? static_cast<float>(hi) * d + m : static_cast<float>(hi - 16) * d;
        }
    }
}

void deq_q8_0(const block_q8_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(b[i].qs[j]) * d;
    }
}

// q4_K: 4 chunks of 64; chunk c holds sub-blocks 2c (low nibbles of qs[32c..32c+31]) and 2c+1 (high
// nibbles). value = d * scale * q - dmin * min.
void deq_q4_k(const block_q4_k* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        uint8_t sc[8], mn[8];
        unpack_k_scales(b[i].scales, sc, mn);
        for (int c = 0; c < 4; ++c, y += 64) {
            const uint8_t* q = b[i].qs + 32 * c;
            for (int l = 0; l < 32; ++l) {
                y[l] = d * sc[2 * c] * static_cast<float>(q[l] & 0xf) - dmin * mn[2 * c];
                y[l + 32] = d * sc[2 * c + 1] * static_cast<float>(q[l] >> 4) - dmin * mn[2 * c + 1];
            }
        }
    }
}

// q5_K: as q4_K plus a 5th bit: element l of chunk c takes bit 2c of qh[l], element l + 32 bit 2c + 1.
void deq_q5_k(const block_q5_k* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        uint8_t sc[8], mn[8];
        unpack_k_scales(b[i].scales, sc, mn);
        for (int c = 0; c < 4; ++c, y += 64) {
            const uint8_t* q = b[i].qs + 32 * c;
            for (int l = 0; l < 32; ++l) {
                const int lo = (q[l] & 0xf) | (((b[i].qh[l] >> (2 * c)) & 1) << 4);
                const int hi = (q[l] >> 4) | (((b[i].qh[l] >> (2 * c + 1)) & 1) << 4);
                y[l] = d * sc[2 * c] * static_cast<float>(lo) - dmin * mn[2 * c];
                y[l + 32] = d * sc[2 * c + 1] * static_cast<float>(hi) - dmin * mn[2 * c + 1];
            }
        }
    }
}

// q6_K: two halves of 128. In half h, element e (0..127) takes the low nibble (e < 64) or high
// nibble (e >= 64) of ql[64h + e % 64] and bits 2 * (e / 32) .. +1 of qh[32h + e % 32];
// value = d * scales[8h + e / 16] * (q - 32).
void deq_q6_k(const block_q6_k* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int h = 0; h < 2; ++h, y += 128) {
            const uint8_t* ql = b[i].ql + 64 * h;
            const uint8_t* qh = b[i].qh + 32 * h;
            const int8_t* sc = b[i].scales + 8 * h;
            for (int e = 0; e < 128; ++e) {
                const int lo = e < 64 ? (ql[e % 64] & 0xf) : (ql[e % 64] >> 4);
                const int q = lo | (((qh[e % 32] >> (2 * (e / 32))) & 3) << 4);
                y[e] = d * static_cast<float>(sc[e / 16]) * static_cast<float>(q - 32);
            }
        }
    }
}

}  // namespace

void dequantize_row(dtype t, const void* src, float* dst, int64_t n) {
    const dtype_info& info = dtype_info_of(t);
    TANDEM_CHECK(n % info.block_elems == 0);
    const int64_t nb = n / info.block_elems;
    switch (t) {
        case dtype::f32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return;
        case dtype::f16: {
            const auto* s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
            return;
        }
        case dtype::bf16: {
            const auto* s = static_cast<const uint16_t*>(src);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
            return;
        }
        case dtype::q4_0:
            deq_q4_0(static_cast<const block_q4_0*>(src), dst, nb);
            return;
        case dtype::q4_1:
            deq_q4_1(static_cast<const block_q4_1*>(src), dst, nb);
            return;
        case dtype::q5_0:
            deq_q5(static_cast<const block_q5_0*>(src), dst, nb, false);
            return;
        case dtype::q5_1:
            deq_q5(static_cast<const block_q5_1*>(src), dst, nb, true);
            return;
        case dtype::q8_0:
            deq_q8_0(static_cast<const block_q8_0*>(src), dst, nb);
            return;
        case dtype::q4_k:
            deq_q4_k(static_cast<const block_q4_k*>(src), dst, nb);
            return;
        case dtype::q5_k:
            deq_q5_k(static_cast<const block_q5_k*>(src), dst, nb);
            return;
        case dtype::q6_k:
            deq_q6_k(static_cast<const block_q6_k*>(src), dst, nb);
            return;
        default:
            break;
    }
    throw error("dequantize_row: type " + std::string(info.name) + " is not supported");
}

}  // namespace tandem::ref
