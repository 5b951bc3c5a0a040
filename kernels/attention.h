// Attention over the paged KV cache. The queries of a sequence that share one KV head (a decode
// row, a verification's drafted rows or a prefill chunk, each with its GQA group of heads) read the
// cache together, one block run at a time, the rows read as stored and no copy of the context
// written. kv_gather decodes a head's rows to f32 (with ref::attend, the tests' oracle).
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

// Buffers attention_paged reuses from call to call (one per thread).
struct attn_scratch {
    struct row {  // one query head: where it reads and writes, its keys, its softmax's running max and sum
        const float* q;
        float* out;
        int32_t k_begin, k_end;
        float m, l;
    };
    std::vector<row> rows;
    std::vector<float> scores;  // one block run's scores of a tile of rows
    std::vector<int8_t> codes;  // per row: its 8-bit codes, for q8_0 / q4_0 K rows
    std::vector<float> code_scales;
};

// The queries (all of one n_group) over their positions of kv_head, read through the block table one
// block run at a time, flash-style: each run's K and V rows are read as stored, once for every query
// row that sees them (up to four rows a pass), and the softmax is taken online, run by run. A query
// row's result depends only on its own keys and where the runs begin (the block boundaries), never
// on the other queries of the call (batch invariance). For q8_0 / q4_0 K a score is an integer dot
// product of the K codes with the query rounded to 8 bits per 32 elements (as llama.cpp does).
void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     std::span<const attn_query> queries, float scale, attn_scratch& scratch);

// Writes one token's K and V rows (n_kv_heads * head_dim floats each) into its slot.
void kv_write_token(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t pos,
                    const float* k, const float* v);

}  // namespace tandem
