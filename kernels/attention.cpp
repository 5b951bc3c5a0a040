// Paged attention: scores over the visible keys, softmax, weighted sum of values, with K/V gathered
// to f32 or read in place.
#include "kernels/attention.h"

#include <algorithm>
#include <climits>

#include "common/check.h"
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
// run(rows, first position, count) for each, after prefetching the run k_prefetch_runs blocks ahead. A block holds
// every layer and head, so a head's runs are short (2 KiB for 16 f16 rows of 64) and far apart: the hardware
// prefetchers never get going, and each run would otherwise start with a full memory latency.
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
    for_block_runs(kv, layer_slot, block_table, kv_head, begin, end, false,
                   [&](const uint8_t* rows, int32_t pos, int32_t n) {
                       dequantize_row(kv.type, rows, k + (pos - begin) * hd, n * hd);
                   });
    for_block_runs(kv, layer_slot, block_table, kv_head, begin, end, true,
                   [&](const uint8_t* rows, int32_t pos, int32_t n) {
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
                     std::span<const attn_query> queries, float scale, attn_scratch& scratch) {
    if (queries.empty()) return;
    const cpu::attention_kernels& ops = attention_ops();
    const int64_t hd = kv.head_dim, n_group = queries.front().n_group;
    int32_t lo = INT32_MAX, hi = 0;
    for (const attn_query& q : queries) {
        TANDEM_CHECK(q.n_group == n_group);
        if (q.k_end > q.k_begin) lo = std::min(lo, q.k_begin), hi = std::max(hi, q.k_end);
    }
    const int64_t span = std::max(0, hi - lo);
    scratch.rows.resize(static_cast<size_t>(kv.block_size * hd));
    scratch.scores.resize(static_cast<size_t>(static_cast<int64_t>(queries.size()) * n_group * span));
    float* rows = scratch.rows.data();
    // Scores of query i, head g, for its visible positions from q.k_begin on.
    const auto scores_of = [&](size_t i, int64_t g) {
        return scratch.scores.data() + (static_cast<int64_t>(i) * n_group + g) * span;
    };
    // Calls f(i, q, a, b) for each query i that sees some of positions [pos, pos + n): [a, b).
    const auto seeing = [&](int32_t pos, int32_t n, auto&& f) {
        for (size_t i = 0; i < queries.size(); ++i) {
            const int32_t a = std::max(pos, queries[i].k_begin), b = std::min(pos + n, queries[i].k_end);
            if (a < b) f(i, queries[i], a, b);
        }
    };
    // Each run is decoded once for every query and head that sees it.
    for_block_runs(kv, layer_slot, block_table, kv_head, lo, hi, false, [&](const uint8_t* k, int32_t pos, int32_t n) {
        dequantize_row(kv.type, k, rows, n * hd);
        seeing(pos, n, [&](size_t i, const attn_query& q, int32_t a, int32_t b) {
            for (int64_t g = 0; g < n_group; ++g)
                ops.scores(q.q + g * hd, rows + (a - pos) * hd, b - a, hd, scale, scores_of(i, g) + (a - q.k_begin));
        });
    });
    for (size_t i = 0; i < queries.size(); ++i) {
        const attn_query& q = queries[i];
        for (int64_t g = 0; g < n_group; ++g) ops.softmax(scores_of(i, g), std::max(0, q.k_end - q.k_begin));
        std::fill(q.out, q.out + n_group * hd, 0.0f);
    }
    for_block_runs(kv, layer_slot, block_table, kv_head, lo, hi, true, [&](const uint8_t* v, int32_t pos, int32_t n) {
        dequantize_row(kv.type, v, rows, n * hd);
        seeing(pos, n, [&](size_t i, const attn_query& q, int32_t a, int32_t b) {
            for (int64_t g = 0; g < n_group; ++g)
                ops.accumulate(scores_of(i, g) + (a - q.k_begin), rows + (a - pos) * hd, b - a, hd, q.out + g * hd);
        });
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
