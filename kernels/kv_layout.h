// The paged KV cache layout, as kernels read and write it: per KV group, a pool of fixed-size
// blocks in one buffer. The engine (engine/kv) owns the memory; models only read and write rows.
//
// Block layout (every block the same size):
//   for each layer slot j in [0, n_layers):  K part, then V part
//   each part: n_kv_heads * block_size rows; row (head * block_size + slot) holds head_dim
//   elements encoded as `type` (f16, q8_0 or q4_0; quantized along head_dim), row_bytes each.
//   One head's rows are contiguous, so attention, which walks one head over every position, reads
//   whole runs of block_size rows (a stride of n_kv_heads rows left the prefetchers behind: the
//   gather ran at memory latency, not bandwidth).
// V is stored untransposed, like K, so one attention kernel reads both quantized.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/types.h"

namespace tandem {

struct kv_group_view {
    uint8_t* base = nullptr;  // block b starts at base + b * block_bytes
    size_t block_bytes = 0;
    size_t part_bytes = 0;   // block_size * n_kv_heads * row_bytes
    size_t row_bytes = 0;    // dtype_row_bytes(type, head_dim)
    int32_t block_size = 0;  // tokens per block
    int32_t n_kv_heads = 0;
    int32_t head_dim = 0;
    dtype type = dtype::f16;
    int64_t n_blocks = 0;  // blocks in the pool (a device backend sizes its own copy by it)

    uint8_t* k_row(int32_t block, int32_t layer_slot, int32_t slot, int32_t head) const {
        return base + static_cast<size_t>(block) * block_bytes + (2 * static_cast<size_t>(layer_slot)) * part_bytes +
               (static_cast<size_t>(head) * block_size + slot) * row_bytes;
    }
    uint8_t* v_row(int32_t block, int32_t layer_slot, int32_t slot, int32_t head) const {
        return k_row(block, layer_slot, slot, head) + part_bytes;
    }
};

}  // namespace tandem
