#include "kernels/vulkan/vk_weights.h"

#include <cstring>

#include "common/check.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/quant.h"

namespace tandem::vk {

weight_format format_for(dtype t, int64_t n_in) {
    switch (t) {
        case dtype::f16:
            return n_in % 2 == 0 ? weight_format::f16 : weight_format::f32;
        case dtype::q8_0:
            return weight_format::q8_0;
        case dtype::q4_0:
            return weight_format::q4_0;
        default:
            return weight_format::f32;
    }
}

uint64_t part_words(weight_format f, int64_t rows, int64_t n_in) {
    const auto n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(n_in);
    switch (f) {
        case weight_format::f32:
            return n;
        case weight_format::f16:
            return n / 2;
        case weight_format::q8_0:
            return n / 32 + n / 4;
        case weight_format::q4_0:
            return n / 32 + n / 8;
    }
    return n;
}

std::vector<uint32_t> repack_rows(dtype t, const void* data, int64_t n_in, int64_t row0, int64_t rows) {
    const weight_format f = format_for(t, n_in);
    const size_t row_bytes = dtype_row_bytes(t, n_in);
    const auto* src = static_cast<const uint8_t*>(data) + static_cast<size_t>(row0) * row_bytes;
    std::vector<uint32_t> out(part_words(f, rows, n_in));
    const int64_t nb = n_in / 32;
    switch (f) {
        case weight_format::f32:
            for (int64_t r = 0; r < rows; ++r)
                dequantize_row(t, src + static_cast<size_t>(r) * row_bytes,
                               reinterpret_cast<float*>(out.data()) + r * n_in, n_in);
            break;
        case weight_format::f16:
            std::memcpy(out.data(), src, static_cast<size_t>(rows) * row_bytes);
            break;
        case weight_format::q8_0: {
            const auto* b = reinterpret_cast<const block_q8_0*>(src);
            uint32_t* codes = out.data() + rows * nb;
            for (int64_t i = 0; i < rows * nb; ++i) {
                const float d = fp16_to_f32(b[i].d);
                std::memcpy(&out[static_cast<size_t>(i)], &d, 4);
                std::memcpy(codes + i * 8, b[i].qs, 32);
            }
            break;
        }
        case weight_format::q4_0: {
            const auto* b = reinterpret_cast<const block_q4_0*>(src);
            uint32_t* codes = out.data() + rows * nb;
            for (int64_t i = 0; i < rows * nb; ++i) {
                const float d = fp16_to_f32(b[i].d);
                std::memcpy(&out[static_cast<size_t>(i)], &d, 4);
                for (int w = 0; w < 4; ++w) {  // word w: elements 8w .. 8w + 7
                    uint32_t word = 0;
                    for (int m = 0; m < 8; ++m) {
                        const int e = 8 * w + m;
                        const uint32_t q = e < 16 ? b[i].qs[e] & 0xf : b[i].qs[e - 16] >> 4;
                        word |= q << (4 * m);
                    }
                    codes[i * 4 + w] = word;
                }
            }
            break;
        }
    }
    return out;
}

}  // namespace tandem::vk
