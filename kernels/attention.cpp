// Paged attention: scores over the visible keys, softmax, weighted sum of values, with K/V gathered
// to f32 or read in place.
#include "kernels/attention.h"

#include <algorithm>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace tandem {

namespace {

const cpu::attention_kernels& attention_ops() {
    static const cpu::attention_kernels ref_ops{ref::attn_scores, op_softmax, ref::attn_accumulate};
    const cpu::kernel_table* t = cpu::table_where([](const cpu::kernel_table& t) { return t.attention != nullptr; });
    return t ? *t->attention : ref_ops;
}

// The block runs of positions [begin, end) of one head's K rows (or V rows, v_part): calls
// run(rows, first position, count) for each, after prefetching the run k_prefetch_runs blocks ahead. A block holds every layer and head, so a
// head's runs are short (2 KiB for 16 f16 rows of 64) and far apart: the hardware prefetchers never
// get going, and each run would otherwise start with a full memory latency.
template <class F>
void for_block_runs(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                    int32_t begin, int32_t end, bool v_part, F&& run) {
    constexpr int32_t k_prefetch_runs = 4;
    const auto rows = [&](int32_t block, int32_t slot) {
        return v_part ? kv.v_row(block, layer_slot, slot, kv_head) : kv.k_row(block, layer_slot, slot, kv_head);
    };
    for (int32_t pos = begin; pos < end;) {
        const int32_t slot = pos % kv.block_size, n = std::min(end - pos, kv.block_size - slot);
        const int32_t ahead = pos / kv.block_size + k_prefetch_runs;
        if (ahead * kv.block_size < end) {
            const uint8_t* p = rows(block_table[ahead], 0);
            for (size_t off = 0; off < static_cast<size_t>(kv.block_size) * kv.row_bytes; off += 64)
                __builtin_prefetch(p + off, 0, 3);
        }
        run(rows(block_table[pos / kv.block_size], slot), pos, n);
        pos += n;
    }
}

}  // namespace

void kv_gather(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head, int32_t begin,
               int32_t end, float* k, float* v) {
    // One head's rows within a block are contiguous (kv_layout.h): decode each block's run at once.
    const int64_t hd = kv.head_dim;
    for_block_runs(kv, layer_slot, block_table, kv_head, begin, end, false, [&](const uint8_t* rows, int32_t pos, int32_t n) {
        dequantize_row(kv.type, rows, k + (pos - begin) * hd, n * hd);
    });
    for_block_runs(kv, layer_slot, block_table, kv_head, begin, end, true, [&](const uint8_t* rows, int32_t pos, int32_t n) {
        dequantize_row(kv.type, rows, v + (pos - begin) * hd, n * hd);
    });
}

void attention_gathered(const float* k, const float* v, int32_t first, int64_t hd, const attn_query& q, float scale,
                        float* scores) {
    const cpu::attention_kernels& ops = attention_ops();
    const int64_t skip = static_cast<int64_t>(q.k_begin - first) * hd, n_keys = q.k_end - q.k_begin;
    for (int32_t g = 0; g < q.n_group; ++g) {
        float* sg = scores + g * n_keys;
        ops.scores(q.q + g * hd, k + skip, n_keys, hd, scale, sg);
        ops.softmax(sg, n_keys);
        std::fill(q.out + g * hd, q.out + (g + 1) * hd, 0.0f);
        ops.accumulate(sg, v + skip, n_keys, hd, q.out + g * hd);
    }
}

void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     const attn_query& q, float scale, attn_scratch& scratch) {
    const cpu::attention_kernels& ops = attention_ops();
    const int64_t n_keys = std::max(0, q.k_end - q.k_begin), hd = kv.head_dim;
    scratch.rows.resize(static_cast<size_t>(kv.block_size * hd));
    scratch.scores.resize(static_cast<size_t>(q.n_group * n_keys));
    float* rows = scratch.rows.data();
    // Each run is decoded once for all the query heads of the group.
    for_block_runs(kv, layer_slot, block_table, kv_head, q.k_begin, q.k_end, false,
                   [&](const uint8_t* k, int32_t pos, int32_t n) {
                       dequantize_row(kv.type, k, rows, n * hd);
                       for (int32_t g = 0; g < q.n_group; ++g)
                           ops.scores(q.q + g * hd, rows, n, hd, scale, scratch.scores.data() + g * n_keys + (pos - q.k_begin));
                   });
    for (int32_t g = 0; g < q.n_group; ++g) {
        ops.softmax(scratch.scores.data() + g * n_keys, n_keys);
        std::fill(q.out + g * hd, q.out + (g + 1) * hd, 0.0f);
    }
    for_block_runs(kv, layer_slot, block_table, kv_head, q.k_begin, q.k_end, true,
                   [&](const uint8_t* v, int32_t pos, int32_t n) {
                       dequantize_row(kv.type, v, rows, n * hd);
                       for (int32_t g = 0; g < q.n_group; ++g)
                           ops.accumulate(scratch.scores.data() + g * n_keys + (pos - q.k_begin), rows, n, hd, q.out + g * hd);
                   });
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
