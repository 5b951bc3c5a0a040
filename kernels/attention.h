// Attention over the paged KV cache. A sequence's K/V rows for one KV head are first gathered
// (dequantized) into contiguous f32, once for all the queries of a prefill chunk; each query then
// attends over its visible range. The query heads that share one KV head (GQA) go together.
#pragma once

#include <cstdint>

#include "kernels/kv_layout.h"

namespace tandem {

struct attn_query {
    const float* q = nullptr;  // (n_group, head_dim): the query heads that share this KV head
    float* out = nullptr;      // (n_group, head_dim)
    int32_t n_group = 1;
    int32_t k_begin = 0;  // keys at positions [k_begin, k_end) are visible
    int32_t k_end = 0;
};

// Dequantizes the K and V rows of positions [begin, end) of one KV head into k, v: (end - begin, head_dim).
void kv_gather(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head, int32_t begin,
               int32_t end, float* k, float* v);

// One query over gathered rows; k/v row 0 holds position `first`. scores: n_group * (k_end - k_begin) floats.
// The arithmetic per query is fixed (it does not depend on how many queries or rows were gathered).
void attention_gathered(const float* k, const float* v, int32_t first, int64_t head_dim, const attn_query& q,
                        float scale, float* scores);

// Writes one token's K and V rows (n_kv_heads * head_dim floats each) into its slot.
void kv_write_token(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t pos,
                    const float* k, const float* v);

}  // namespace tandem
