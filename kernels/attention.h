// Attention of one query token over the paged KV cache, for the query heads that share one KV head
// (GQA). Keys and values are read through the sequence's block table, in f16, q8_0 or q4_0.
#pragma once

#include <cstdint>

#include "kernels/kv_layout.h"

namespace tandem {

struct attn_query {
    const float* q = nullptr;  // (n_group, head_dim): the query heads that share this KV head
    float* out = nullptr;      // (n_group, head_dim)
    int32_t n_group = 1;
    int32_t k_begin = 0;       // keys at positions [k_begin, k_end) are visible
    int32_t k_end = 0;
};

// Floats of scratch attention_paged needs for a query that sees n_keys keys.
inline int64_t attention_scratch_floats(int64_t n_keys, int64_t n_group, int64_t head_dim) {
    return n_keys * n_group + head_dim;
}

void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     const attn_query& q, float scale, float* scratch);

// Writes one token's K and V rows (n_kv_heads * head_dim floats each) into its slot.
void kv_write_token(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t pos,
                    const float* k, const float* v);

}  // namespace tandem
