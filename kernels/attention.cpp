// Paged attention, flash-style: block run by block run, scores, an online softmax and the weighted
// sum of values, the rows read as stored; and the gather of a head's rows to f32 (tests).
#include "kernels/attention.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "common/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace tandem {

namespace {

const cpu::attention_kernels& attention_ops() {
    static const cpu::attention_kernels ref_ops{ref::attn_scores, ref::attn_softmax_step, ref::attn_accumulate};
    const cpu::kernel_table* t = cpu::table_where([](const cpu::kernel_table& t) { return t.attention != nullptr; });
    return t ? *t->attention : ref_ops;
}

// The block runs of positions [begin, end) of one head: calls run(K rows, V rows, first position,
// count) for each, after prefetching the run k_prefetch_runs blocks ahead. A block holds every layer
// and head, so a head's runs are short (2 KiB for 16 f16 rows of 64) and far apart: the hardware
// prefetchers never get going, and each run would otherwise start with a full memory latency.
template <class F>
void for_block_runs(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                    int32_t begin, int32_t end, F&& run) {
    constexpr int32_t k_prefetch_runs = 4;
    const size_t run_bytes = static_cast<size_t>(kv.block_size) * kv.row_bytes;
    for (int32_t pos = begin; pos < end;) {
        const int32_t slot = pos % kv.block_size, n = std::min(end - pos, kv.block_size - slot);
        const int32_t ahead = pos / kv.block_size + k_prefetch_runs;
        if (ahead * kv.block_size < end) {
            const uint8_t* p = kv.k_row(block_table[ahead], layer_slot, 0, kv_head);
            for (size_t off = 0; off < run_bytes; off += 64) {
                __builtin_prefetch(p + off, 0, 3);
                __builtin_prefetch(p + kv.part_bytes + off, 0, 3);
            }
        }
        const uint8_t* k = kv.k_row(block_table[pos / kv.block_size], layer_slot, slot, kv_head);
        run(k, k + kv.part_bytes, pos, n);
        pos += n;
    }
}

// x (n floats, n a multiple of 32) as 8-bit codes with one scale per 32: code = round(x / d), d = max |x| / 127.
void quantize_query(const float* x, int64_t n, int8_t* codes, float* d) {
    for (int64_t b = 0; b < n / 32; ++b) {
        float amax = 0.0f;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b * 32 + i]));
        d[b] = amax / 127.0f;
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        for (int i = 0; i < 32; ++i) codes[b * 32 + i] = static_cast<int8_t>(std::nearbyint(x[b * 32 + i] * inv));
    }
}

}  // namespace

void kv_gather(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head, int32_t begin,
               int32_t end, float* k, float* v) {
    const int64_t hd = kv.head_dim;
    for_block_runs(kv, layer_slot, block_table, kv_head, begin, end,
                   [&](const uint8_t* kr, const uint8_t* vr, int32_t pos, int32_t n) {
                       dequantize_row(kv.type, kr, k + (pos - begin) * hd, n * hd);
                       dequantize_row(kv.type, vr, v + (pos - begin) * hd, n * hd);
                   });
}

void attention_paged(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head,
                     std::span<const attn_query> queries, float scale, attn_scratch& scratch) {
    if (queries.empty()) return;
    const cpu::attention_kernels& ops = attention_ops();
    const int64_t hd = kv.head_dim, n_group = queries.front().n_group;
    const int64_t n_rows = static_cast<int64_t>(queries.size()) * n_group;
    const bool coded = kv.type != dtype::f16;
    int32_t lo = INT32_MAX, hi = 0;
    for (const attn_query& q : queries) {
        TANDEM_CHECK(q.n_group == n_group);
        if (q.k_end > q.k_begin) lo = std::min(lo, q.k_begin), hi = std::max(hi, q.k_end);
        std::fill(q.out, q.out + n_group * hd, 0.0f);
    }
    auto& rows = scratch.rows;
    rows.clear();
    for (const attn_query& q : queries) {
        for (int64_t g = 0; g < n_group; ++g)
            rows.push_back({q.q + g * hd, q.out + g * hd, q.k_begin, q.k_end, -INFINITY, 0.0f});
    }
    if (coded) {
        scratch.codes.resize(static_cast<size_t>(n_rows * hd));
        scratch.code_scales.resize(static_cast<size_t>(n_rows * hd / 32));
        for (int64_t r = 0; r < n_rows; ++r)
            quantize_query(rows[r].q, hd, scratch.codes.data() + r * hd, scratch.code_scales.data() + r * hd / 32);
    }
    const int64_t ns = kv.block_size;
    scratch.scores.resize(static_cast<size_t>(cpu::k_attn_rows * ns));
    float* s = scratch.scores.data();
    for_block_runs(kv, layer_slot, block_table, kv_head, lo, hi,
                   [&](const uint8_t* k, const uint8_t* v, int32_t pos, int32_t n) {
                       // The rows that see this run, in tiles of rows that see the same positions [a, b) of it.
                       for (int64_t r = 0; r < n_rows;) {
                           const int32_t a = std::max(pos, rows[r].k_begin), b = std::min(pos + n, rows[r].k_end);
                           if (a >= b) {
                               r += n_group - r % n_group;  // the query's other heads see none of it either
                               continue;
                           }
                           cpu::attn_row_q qs[cpu::k_attn_rows];
                           float* outs[cpu::k_attn_rows];
                           float c[cpu::k_attn_rows];
                           int tile = 0;
                           for (; tile < cpu::k_attn_rows && r + tile < n_rows; ++tile) {
                               const attn_scratch::row& row = rows[r + tile];
                               if (std::max(pos, row.k_begin) != a || std::min(pos + n, row.k_end) != b) break;
                               qs[tile].f = row.q;
                               if (coded) {
                                   qs[tile].c = scratch.codes.data() + (r + tile) * hd;
                                   qs[tile].d = scratch.code_scales.data() + (r + tile) * hd / 32;
                               }
                               outs[tile] = row.out;
                           }
                           const size_t skip = static_cast<size_t>(a - pos) * kv.row_bytes;
                           ops.scores(kv.type, qs, tile, k + skip, kv.row_bytes, b - a, hd, scale, s, ns);
                           for (int t = 0; t < tile; ++t) {
                               attn_scratch::row& row = rows[r + t];
                               c[t] = ops.softmax_step(s + t * ns, b - a, &row.m, &row.l);
                           }
                           ops.accumulate(kv.type, s, ns, tile, v + skip, kv.row_bytes, b - a, hd, c, outs);
                           r += tile;
                       }
                   });
    for (const attn_scratch::row& row : rows) {
        if (row.l <= 0.0f) continue;  // no visible keys: a zero output
        const float inv = 1.0f / row.l;
        for (int64_t d = 0; d < hd; ++d) row.out[d] *= inv;
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
