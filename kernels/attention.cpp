// Paged attention: gather K/V to f32, scores over the visible keys, softmax, weighted sum of values.
#include "kernels/attention.h"

#include <cstring>

#include "kernels/ops.h"
#include "kernels/quant.h"

namespace tandem {
namespace {

// A dot product with 16 partial sums in a fixed order: vectorisable, and the same result for the
// same inputs wherever it is called from.
float dot16(const float* a, const float* b, int64_t n) {
    float acc[16] = {};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
    }
    for (; i < n; ++i) acc[i % 16] += a[i] * b[i];
    float s = 0.0f;
    for (int j = 0; j < 16; ++j) s += acc[j];
    return s;
}

}  // namespace

void kv_gather(const kv_group_view& kv, int32_t layer_slot, const int32_t* block_table, int32_t kv_head, int32_t begin,
               int32_t end, float* k, float* v) {
    const int64_t hd = kv.head_dim;
    for (int32_t pos = begin; pos < end; ++pos) {
        const int32_t block = block_table[pos / kv.block_size];
        const int32_t slot = pos % kv.block_size;
        const int64_t r = pos - begin;
        dequantize_row(kv.type, kv.k_row(block, layer_slot, slot, kv_head), k + r * hd, hd);
        dequantize_row(kv.type, kv.v_row(block, layer_slot, slot, kv_head), v + r * hd, hd);
    }
}

void attention_gathered(const float* k, const float* v, int32_t first, int64_t hd, const attn_query& q, float scale,
                        float* scores) {
    const int64_t n_keys = q.k_end - q.k_begin;
    const float* k0 = k + static_cast<int64_t>(q.k_begin - first) * hd;
    const float* v0 = v + static_cast<int64_t>(q.k_begin - first) * hd;
    for (int32_t g = 0; g < q.n_group; ++g) {
        const float* qg = q.q + g * hd;
        float* sg = scores + g * n_keys;
        for (int64_t j = 0; j < n_keys; ++j) sg[j] = dot16(qg, k0 + j * hd, hd) * scale;
        op_softmax(sg, n_keys);
        float* og = q.out + g * hd;
        std::memset(og, 0, sizeof(float) * hd);
        for (int64_t j = 0; j < n_keys; ++j) {
            const float p = sg[j];
            const float* vj = v0 + j * hd;
            for (int64_t d = 0; d < hd; ++d) og[d] += p * vj[d];
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
