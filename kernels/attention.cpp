// Paged attention: scores over the visible keys, softmax, weighted sum of values.
#include "kernels/attention.h"

#include <cmath>
#include <cstring>

#include "kernels/ops.h"
#include "kernels/quant.h"

namespace tandem {

void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     const attn_query& q, float scale, float* scratch) {
    const int64_t hd = kv.head_dim;
    const int64_t n_keys = q.k_end - q.k_begin;
    float* scores = scratch;          // (n_group, n_keys)
    float* row = scratch + n_keys * q.n_group;  // (head_dim)
    for (int64_t j = 0; j < n_keys; ++j) {
        const int32_t pos = q.k_begin + static_cast<int32_t>(j);
        const int32_t block = block_table[pos / kv.block_size];
        dequantize_row(kv.type, kv.k_row(block, layer_slot, pos % kv.block_size, kv_head), row, hd);
        for (int32_t g = 0; g < q.n_group; ++g) {
            const float* qg = q.q + g * hd;
            float s = 0.0f;
            for (int64_t d = 0; d < hd; ++d) s += qg[d] * row[d];
            scores[g * n_keys + j] = s * scale;
        }
    }
    for (int32_t g = 0; g < q.n_group; ++g) op_softmax(scores + g * n_keys, n_keys);
    std::memset(q.out, 0, sizeof(float) * q.n_group * hd);
    for (int64_t j = 0; j < n_keys; ++j) {
        const int32_t pos = q.k_begin + static_cast<int32_t>(j);
        const int32_t block = block_table[pos / kv.block_size];
        dequantize_row(kv.type, kv.v_row(block, layer_slot, pos % kv.block_size, kv_head), row, hd);
        for (int32_t g = 0; g < q.n_group; ++g) {
            const float p = scores[g * n_keys + j];
            float* og = q.out + g * hd;
            for (int64_t d = 0; d < hd; ++d) og[d] += p * row[d];
        }
    }
}

void kv_write_token(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t pos,
                    const float* k, const float* v) {
    const int32_t block = block_table[pos / kv.block_size];
    const int32_t slot = pos % kv.block_size;
    for (int32_t h = 0; h < kv.n_kv_heads; ++h) {
        quantize_row(kv.type, k + static_cast<int64_t>(h) * kv.head_dim, kv.k_row(block, layer_slot, slot, h),
                     kv.head_dim);
        quantize_row(kv.type, v + static_cast<int64_t>(h) * kv.head_dim, kv.v_row(block, layer_slot, slot, h),
                     kv.head_dim);
    }
}

}  // namespace tandem
