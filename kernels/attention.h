// Attention over the paged KV cache. The queries of a sequence that share one KV head (a decode
// row, a verification's drafted rows or a prefill chunk, each with its GQA group of heads) read the
// cache together, one block run at a time: each run is decoded once into a buffer that stays in L1
// and serves every query that sees it, and no copy of the whole context is written. kv_gather and
// attention_gathered do the same over a contiguous f32 copy, with the same result bit for bit
// (the oracle in tests and the baseline in bench_attention).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

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

// Buffers attention_paged reuses from call to call (one per thread).
struct attn_scratch {
    std::vector<float> rows;    // one block run of K or V rows, decoded
    std::vector<float> scores;  // (queries, n_group, positions the queries span)
};

// The queries (all of one n_group) over their positions of kv_head, read through the block table one
// block run at a time: for each query the same bits as kv_gather followed by attention_gathered.
void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     std::span<const attn_query> queries, float scale, attn_scratch& scratch);

// Writes one token's K and V rows (n_kv_heads * head_dim floats each) into its slot.
void kv_write_token(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t pos,
                    const float* k, const float* v);

}  // namespace tandem
