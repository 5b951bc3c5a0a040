#include "kernels/vulkan/vk_kv.h"

#include <cstring>
#include <string>

#include "common/error.h"
#include "kernels/fp16.h"

namespace tandem::vk {

kv_device_layout::kv_device_layout(dtype type, int32_t bs, int32_t heads, int32_t hd, int32_t layers) {
    switch (type) {
        case dtype::f16:
            kv_type = 0;
            break;
        case dtype::q8_0:
            kv_type = 1;
            break;
        case dtype::q4_0:
            kv_type = 2;
            break;
        default:
            throw error(std::string("Vulkan: KV cache type ") + std::string(dtype_info_of(type).name) +
                        " (f16, q8_0 or q4_0)");
    }
    if (hd <= 0 || hd > 512 || hd % (kv_type == 0 ? 2 : 32) != 0)
        throw error("Vulkan: head dim " + std::to_string(hd) + " with a " + std::string(dtype_info_of(type).name) +
                    " cache (the shaders take up to 512, even for f16, multiples of 32 quantized)");
    block_size = static_cast<uint32_t>(bs), n_kv_heads = static_cast<uint32_t>(heads);
    head_dim = static_cast<uint32_t>(hd), n_layers = static_cast<uint32_t>(layers);
    row_words = kv_type == 0   ? head_dim / 2
                : kv_type == 1 ? head_dim / 32 + head_dim / 4
                               : head_dim / 32 + head_dim / 8;
    part_words = n_kv_heads * block_size * row_words;
    block_words = 2 * n_layers * part_words;
}

void kv_decode_row(const kv_device_layout& l, const uint32_t* row, float* out) {
    const uint32_t hd = l.head_dim;
    for (uint32_t d = 0; d < hd; ++d) {
        if (l.kv_type == 0) {
            out[d] = fp16_to_f32(static_cast<uint16_t>(row[d / 2] >> (16 * (d % 2))));
            continue;
        }
        float scale;
        std::memcpy(&scale, &row[d / 32], 4);
        if (l.kv_type == 1) {
            const auto code = static_cast<int8_t>(row[hd / 32 + d / 4] >> (8 * (d % 4)));
            out[d] = scale * static_cast<float>(code);
        } else {
            const uint32_t code = (row[hd / 32 + d / 8] >> (4 * (d % 8))) & 0xf;
            out[d] = scale * (static_cast<float>(code) - 8.0f);
        }
    }
}

}  // namespace tandem::vk
