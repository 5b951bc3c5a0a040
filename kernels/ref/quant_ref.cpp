// Reference quantizers (the types the KV cache stores, plus the other 32-element types) and the
// exact dot product / matmul oracles.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/error.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/ref/ref.h"

namespace tandem::ref {
namespace {

int round_clamp(float v, int lo, int hi) {
    return std::clamp(static_cast<int>(std::nearbyint(v)), lo, hi);
}

void quant_q8_0(const float* x, block_q8_0* b, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += k_qk) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        b[i].d = f32_to_fp16(amax / 127.0f);
        const float d = fp16_to_f32(b[i].d);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; ++j) b[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * id, -127, 127));
    }
}

// Signed-max types (q4_0, q5_0): the element of largest magnitude maps exactly to the code 0 end.
template <class B>
void quant_signed(const float* x, B* b, int64_t nb, int half) {
    for (int64_t i = 0; i < nb; ++i, x += k_qk) {
        float amax = 0, vmax = 0;
        for (int j = 0; j < 32; ++j) {
            if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), vmax = x[j];
        }
        b[i].d = f32_to_fp16(vmax / static_cast<float>(-half));
        const float d = fp16_to_f32(b[i].d);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; ++j) q[j] = round_clamp(x[j] * id + static_cast<float>(half), 0, 2 * half - 1);
        std::memset(b[i].qs, 0, 16);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            b[i].qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
            qh |= static_cast<uint32_t>(q[j] >> 4) << j;
            qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
        }
        if constexpr (requires { b[i].qh; }) std::memcpy(b[i].qh, &qh, 4);
    }
}

// Min/scale types (q4_1, q5_1): value = q * d + m with q in [0, 2^bits).
template <class B>
void quant_minmax(const float* x, B* b, int64_t nb, int n_levels) {
    for (int64_t i = 0; i < nb; ++i, x += k_qk) {
        float lo = x[0], hi = x[0];
        for (int j = 1; j < 32; ++j) lo = std::min(lo, x[j]), hi = std::max(hi, x[j]);
        b[i].d = f32_to_fp16((hi - lo) / static_cast<float>(n_levels - 1));
        b[i].m = f32_to_fp16(lo);
        const float d = fp16_to_f32(b[i].d), m = fp16_to_f32(b[i].m);
        const float id = d != 0 ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < 32; ++j) q[j] = round_clamp((x[j] - m) * id, 0, n_levels - 1);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            b[i].qs[j] = static_cast<uint8_t>((q[j] & 0xf) | ((q[j + 16] & 0xf) << 4));
            qh |= static_cast<uint32_t>(q[j] >> 4) << j;
            qh |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
        }
        if constexpr (requires { b[i].qh; }) std::memcpy(b[i].qh, &qh, 4);
    }
}

}  // namespace

bool quantize_supported(dtype t) {
    switch (t) {
        case dtype::f32:
        case dtype::f16:
        case dtype::bf16:
        case dtype::q8_0:
        case dtype::q4_0:
        case dtype::q4_1:
        case dtype::q5_0:
        case dtype::q5_1:
            return true;
        default:
            return false;
    }
}

void quantize_row(dtype t, const float* src, void* dst, int64_t n) {
    const dtype_info& info = dtype_info_of(t);
    if (!quantize_supported(t)) throw error("quantize_row: type " + std::string(info.name) + " is not supported");
    if (n % info.block_elems != 0) {
        throw error("quantize_row: " + std::to_string(n) + " elements is not a multiple of the " +
                    std::string(info.name) + " block size");
    }
    const int64_t nb = n / info.block_elems;
    switch (t) {
        case dtype::f32:
            std::memcpy(dst, src, static_cast<size_t>(n) * 4);
            return;
        case dtype::f16:
            for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_fp16(src[i]);
            return;
        case dtype::bf16:
            for (int64_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
            return;
        case dtype::q8_0:
            quant_q8_0(src, static_cast<block_q8_0*>(dst), nb);
            return;
        case dtype::q4_0:
            quant_signed(src, static_cast<block_q4_0*>(dst), nb, 8);
            return;
        case dtype::q5_0:
            quant_signed(src, static_cast<block_q5_0*>(dst), nb, 16);
            return;
        case dtype::q4_1:
            quant_minmax(src, static_cast<block_q4_1*>(dst), nb, 16);
            return;
        case dtype::q5_1:
            quant_minmax(src, static_cast<block_q5_1*>(dst), nb, 32);
            return;
        default:
            return;
    }
}

void matmul(dtype wt, const void* w, int64_t n_out, int64_t n_in, const float* x, int64_t n_rows, float* y) {
    const size_t row_bytes = dtype_row_bytes(wt, n_in);
    std::vector<float> wr(static_cast<size_t>(n_in));
    for (int64_t o = 0; o < n_out; ++o) {
        dequantize_row(wt, static_cast<const uint8_t*>(w) + o * row_bytes, wr.data(), n_in);
        for (int64_t r = 0; r < n_rows; ++r) {
            const float* xr = x + r * n_in;
            double s = 0;
            for (int64_t i = 0; i < n_in; ++i) s += static_cast<double>(wr[i]) * xr[i];
            y[r * n_out + o] = static_cast<float>(s);
        }
    }
}

}  // namespace tandem::ref
