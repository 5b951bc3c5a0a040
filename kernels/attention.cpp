// Paged attention: gather K/V to f32, scores over the visible keys, softmax, weighted sum of values.
#include "kernels/attention.h"

#include <algorithm>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace tandem {

void kv_gather(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head, int32_t begin,
               int32_t end, float* k, float* v) {
    // One head's rows within a block are contiguous (kv_layout.h): decode each block's run at once.
    const int64_t hd = kv.head_dim;
    for (int32_t pos = begin; pos < end;) {
        const int32_t slot = pos % kv.block_size;
        const int32_t n = std::min(end - pos, kv.block_size - slot);
        const int32_t block = block_table[pos / kv.block_size];
        const int64_t r = pos - begin;
        dequantize_row(kv.type, kv.k_row(block, layer_slot, slot, kv_head), k + r * hd, n * hd);
        dequantize_row(kv.type, kv.v_row(block, layer_slot, slot, kv_head), v + r * hd, n * hd);
        pos += n;
    }
}

void attention_gathered(const float* k, const float* v, int32_t first, int64_t hd, const attn_query& q, float scale,
                        float* scores) {
    const int64_t skip = static_cast<int64_t>(q.k_begin - first) * hd, n_keys = q.k_end - q.k_begin;
    const cpu::kernel_table* t = cpu::table_where([](const cpu::kernel_table& t) { return t.attend != nullptr; });
    (t ? t->attend : ref::attend)(k + skip, v + skip, n_keys, hd, q.q, q.n_group, q.out, scale, scores);
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
