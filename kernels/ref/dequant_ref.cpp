// Reference dequantizers for every computable type, written from the ggml block definitions.
#include <cmath>
#include <cstring>

#include "common/check.h"
#include "common/error.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/ref/iq_ref.h"
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

// q2_K: two halves of 128. In half h, the 2-bit code of element 32j + l (j < 4, l < 32) is bits
// 2j..2j+1 of qs[32h + l]; sub-block 8h + 2j + l / 16 gives value d * scale * q - dmin * min.
void deq_q2_k(const block_q2_k* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d), dmin = fp16_to_f32(b[i].dmin);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* q = b[i].qs + 32 * h;
            for (int j = 0; j < 4; ++j) {
                for (int l = 0; l < 32; ++l, ++y) {
                    const uint8_t sc = b[i].scales[8 * h + 2 * j + l / 16];
                    const int code = (q[l] >> (2 * j)) & 3;
                    *y = d * static_cast<float>(sc & 0xf) * static_cast<float>(code) -
                         dmin * static_cast<float>(sc >> 4);
                }
            }
        }
    }
}

// q3_K: the layout of q2_K's codes, plus a high bit: element 32j + l of half h takes bit 4h + j of
// hmask[l]; value d * scale * (code - 4) where that bit is clear, d * scale * code where it is set.
void deq_q3_k(const block_q3_k* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d);
        int sc[16];
        unpack_q3_k_scales(b[i].scales, sc);
        for (int h = 0; h < 2; ++h) {
            const uint8_t* q = b[i].qs + 32 * h;
            for (int j = 0; j < 4; ++j) {
                for (int l = 0; l < 32; ++l, ++y) {
                    const int code = (q[l] >> (2 * j)) & 3;
                    const int high = (b[i].hmask[l] >> (4 * h + j)) & 1;
                    *y = d * static_cast<float>(sc[8 * h + 2 * j + l / 16]) * static_cast<float>(code - (high ? 0 : 4));
                }
            }
        }
    }
}

void deq_iq4_nl(const block_iq4_nl* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * k_iq4nl_values[b[i].qs[j] & 0xf];
            y[j + 16] = d * k_iq4nl_values[b[i].qs[j] >> 4];
        }
    }
}

void deq_iq4_xs(const block_iq4_xs* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int s = 0; s < 8; ++s, y += k_qk) {
            const int lo = (b[i].scales_l[s / 2] >> (4 * (s % 2))) & 0xf;
            const int hi = (b[i].scales_h >> (2 * s)) & 3;
            const float dl = d * static_cast<float>((lo | (hi << 4)) - 32);
            const uint8_t* q = b[i].qs + 16 * s;
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * k_iq4nl_values[q[j] & 0xf];
                y[j + 16] = dl * k_iq4nl_values[q[j] >> 4];
            }
        }
    }
}

void deq_mxfp4(const block_mxfp4* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += k_qk) {
        const float d = std::ldexp(1.0f, static_cast<int>(b[i].e) - 128);  // 2^(e - 127), halved
        for (int j = 0; j < 16; ++j) {
            y[j] = d * k_mxfp4_values[b[i].qs[j] & 0xf];
            y[j + 16] = d * k_mxfp4_values[b[i].qs[j] >> 4];
        }
    }
}

void deq_q1_0(const block_q1_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += 128) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 128; ++j) y[j] = (b[i].qs[j / 8] >> (j % 8)) & 1 ? d : -d;
    }
}

void deq_q2_0(const block_q2_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += 64) {
        const float d = fp16_to_f32(b[i].d);
        for (int j = 0; j < 64; ++j) y[j] = d * static_cast<float>(((b[i].qs[j / 4] >> (2 * (j % 4))) & 3) - 1);
    }
}

// Digit n (0-4) of a byte of base-3 digits stored as a fixed-point fraction, minus 1.
float tq1_digit(uint8_t b, int n) {
    static constexpr uint8_t k_pow3[5] = {1, 3, 9, 27, 81};
    const auto q = static_cast<uint8_t>(b * k_pow3[n]);
    return static_cast<float>((q * 3) >> 8) - 1.0f;
}

void deq_tq1_0(const block_tq1_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 32; ++m) *y++ = d * tq1_digit(b[i].qs[m], n);
        for (int n = 0; n < 5; ++n)
            for (int m = 0; m < 16; ++m) *y++ = d * tq1_digit(b[i].qs[32 + m], n);
        for (int n = 0; n < 4; ++n)
            for (int m = 0; m < 4; ++m) *y++ = d * tq1_digit(b[i].qh[m], n);
    }
}

void deq_tq2_0(const block_tq2_0* b, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(b[i].d);
        for (int h = 0; h < 2; ++h)
            for (int l = 0; l < 4; ++l)
                for (int m = 0; m < 32; ++m, ++y)
                    *y = d * static_cast<float>(((b[i].qs[32 * h + m] >> (2 * l)) & 3) - 1);
    }
}

void deq_f32(const void* src, float* dst, int64_t n) {
    std::memcpy(dst, src, static_cast<size_t>(n) * 4);
}
void deq_f16(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_f32(s[i]);
}
void deq_bf16(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
}

// Casts a row to its blocks for a decoder of nb blocks.
template <class Block, int Elems, void (*Decode)(const Block*, float*, int64_t)>
void blocks(const void* src, float* dst, int64_t n) {
    Decode(static_cast<const Block*>(src), dst, n / Elems);
}

void deq_q5_0(const block_q5_0* b, float* y, int64_t nb) {
    deq_q5(b, y, nb, false);
}
void deq_q5_1(const block_q5_1* b, float* y, int64_t nb) {
    deq_q5(b, y, nb, true);
}

struct decoder_entry {
    dtype t;
    row_decoder decode;
};

// The one table of decodable types: a type with an entry here is computable (types.h), since every
// kernel path falls back to decoding rows (kernels/matmul.cpp matmul_generic, embedding lookups).
constexpr decoder_entry k_decoders[] = {
    {dtype::f32, deq_f32},
    {dtype::f16, deq_f16},
    {dtype::bf16, deq_bf16},
    {dtype::q4_0, blocks<block_q4_0, k_qk, deq_q4_0>},
    {dtype::q4_1, blocks<block_q4_1, k_qk, deq_q4_1>},
    {dtype::q5_0, blocks<block_q5_0, k_qk, deq_q5_0>},
    {dtype::q5_1, blocks<block_q5_1, k_qk, deq_q5_1>},
    {dtype::q8_0, blocks<block_q8_0, k_qk, deq_q8_0>},
    {dtype::q2_k, blocks<block_q2_k, k_qk_k, deq_q2_k>},
    {dtype::q3_k, blocks<block_q3_k, k_qk_k, deq_q3_k>},
    {dtype::q4_k, blocks<block_q4_k, k_qk_k, deq_q4_k>},
    {dtype::q5_k, blocks<block_q5_k, k_qk_k, deq_q5_k>},
    {dtype::q6_k, blocks<block_q6_k, k_qk_k, deq_q6_k>},
    {dtype::iq4_nl, blocks<block_iq4_nl, k_qk, deq_iq4_nl>},
    {dtype::iq4_xs, blocks<block_iq4_xs, k_qk_k, deq_iq4_xs>},
    {dtype::mxfp4, blocks<block_mxfp4, k_qk, deq_mxfp4>},
    {dtype::iq2_xxs, deq_iq2_xxs},
    {dtype::iq2_xs, deq_iq2_xs},
    {dtype::iq2_s, deq_iq2_s},
    {dtype::iq3_xxs, deq_iq3_xxs},
    {dtype::iq3_s, deq_iq3_s},
    {dtype::iq1_s, deq_iq1_s},
    {dtype::iq1_m, deq_iq1_m},
    {dtype::q1_0, blocks<block_q1_0, 128, deq_q1_0>},
    {dtype::q2_0, blocks<block_q2_0, 64, deq_q2_0>},
    {dtype::tq1_0, blocks<block_tq1_0, k_qk_k, deq_tq1_0>},
    {dtype::tq2_0, blocks<block_tq2_0, k_qk_k, deq_tq2_0>},
};

}  // namespace

row_decoder row_decoder_for(dtype t) {
    for (const decoder_entry& e : k_decoders)
        if (e.t == t) return e.decode;
    return nullptr;
}

void dequantize_row(dtype t, const void* src, float* dst, int64_t n) {
    const dtype_info& info = dtype_info_of(t);
    TANDEM_CHECK(n % info.block_elems == 0);
    const row_decoder decode = row_decoder_for(t);
    if (!decode) throw error("dequantize_row: type " + std::string(info.name) + " is not supported");
    decode(src, dst, n);
}

}  // namespace tandem::ref
