// How a model describes its KV needs: one spec per KV group. The block layout itself is
// kernels/kv_layout.h; the backend owns the memory (backend::alloc_kv), the engine the block tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/kv_layout.h"

namespace tandem {

struct kv_group_spec {
    int32_t n_layers = 0;  // layers that own KV storage in this group
    int32_t n_kv_heads = 0;
    int32_t head_dim = 0;
    int32_t sliding_window = 0;  // 0: full attention; else keys with q_pos - k_pos >= window are masked
};

}  // namespace tandem
