// The paged KV cache on a Vulkan device: the same blocks, layer slots, K/V parts and head-major rows
// as kernels/kv_layout.h, in one pool buffer of uint32 words, each row encoded as the shaders read
// it (shaders/kv_rows.glsl): f16 as halves, q8_0 and q4_0 as f32 scales (rounded to f16, as GGUF's)
// then packed codes. The pool is one buffer, so its size is capped by the device's storage buffer
// range (128 MiB on lavapipe, usually 2-4 GiB on GPUs).
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace tandem::vk {

struct kv_device_layout {
    uint32_t kv_type = 0;  // 0 f16, 1 q8_0, 2 q4_0
    uint32_t block_size = 0, n_kv_heads = 0, head_dim = 0, n_layers = 0;
    uint32_t row_words = 0, part_words = 0, block_words = 0;

    // Throws tandem::error for a type the device cache does not hold or a head_dim it cannot encode.
    kv_device_layout(dtype type, int32_t block_size, int32_t n_kv_heads, int32_t head_dim, int32_t n_layers);
    uint64_t row_word(uint32_t block, uint32_t layer_slot, uint32_t part, uint32_t head, uint32_t slot) const {
        return uint64_t{block} * block_words + (2ull * layer_slot + part) * part_words +
               (uint64_t{head} * block_size + slot) * row_words;
    }
};

// Decodes one device row (row_words words) into head_dim floats, as the shaders do.
void kv_decode_row(const kv_device_layout& l, const uint32_t* row, float* out);

}  // namespace tandem::vk
