// Scalar attention: the pieces of the paged, online-softmax attention (the scalar level's path and
// the SIMD pieces' oracle), and a whole two-pass attention over gathered rows (the tests' oracle).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/ops.h"
#include "kernels/ref/ref.h"

namespace tandem::ref {
namespace {

// A dot product with 16 partial sums in a fixed order: the same result for the same inputs
// wherever it is called from.
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

// The signed codes and scale of 32-element block b of a q8_0 or q4_0 row.
float block_codes(dtype t, const uint8_t* row, int64_t b, int8_t* codes) {
    if (t == dtype::q8_0) {
        const auto* blk = reinterpret_cast<const block_q8_0*>(row) + b;
        std::memcpy(codes, blk->qs, 32);
        return fp16_to_f32(blk->d);
    }
    const auto* blk = reinterpret_cast<const block_q4_0*>(row) + b;
    for (int j = 0; j < 16; ++j) {
        codes[j] = static_cast<int8_t>((blk->qs[j] & 15) - 8);
        codes[j + 16] = static_cast<int8_t>((blk->qs[j] >> 4) - 8);
    }
    return fp16_to_f32(blk->d);
}

}  // namespace

void attn_scores(dtype t, const cpu::attn_row_q* q, int n_rows, const uint8_t* k, size_t row_bytes, int n, int64_t hd,
                 float scale, float* s, int64_t ns) {
    thread_local std::vector<float> kf;
    kf.resize(static_cast<size_t>(hd));
    int8_t codes[32];
    for (int j = 0; j < n; ++j) {
        const uint8_t* row = k + j * row_bytes;
        if (t == dtype::f16) {
            dequantize_row(t, row, kf.data(), hd);
            for (int r = 0; r < n_rows; ++r) s[r * ns + j] = dot16(q[r].f, kf.data(), hd) * scale;
            continue;
        }
        for (int r = 0; r < n_rows; ++r) {
            float acc = 0.0f;
            for (int64_t b = 0; b < hd / 32; ++b) {
                const float dk = block_codes(t, row, b, codes);
                int32_t dot = 0;
                for (int i = 0; i < 32; ++i) dot += codes[i] * q[r].c[b * 32 + i];
                acc += static_cast<float>(dot) * (q[r].d[b] * dk);
            }
            s[r * ns + j] = acc * scale;
        }
    }
}

float attn_softmax_step(float* s, int n, float* m, float* l) {
    float top = *m;
    for (int j = 0; j < n; ++j) top = std::max(top, s[j]);
    const auto factor = [](float x) { return x >= cpu::k_attn_drop ? std::exp(x) : 0.0f; };
    const float c = factor(*m - top);
    float sum = 0.0f;
    for (int j = 0; j < n; ++j) sum += s[j] = factor(s[j] - top);
    *m = top;
    *l = c * *l + sum;
    return c;
}

void attn_accumulate(dtype t, const float* p, int64_t np, int n_rows, const uint8_t* v, size_t row_bytes, int n,
                     int64_t hd, const float* c, float* const* out) {
    thread_local std::vector<float> vf;
    vf.resize(static_cast<size_t>(hd));
    for (int r = 0; r < n_rows; ++r) {
        for (int64_t d = 0; d < hd; ++d) out[r][d] *= c[r];
    }
    for (int j = 0; j < n; ++j) {
        dequantize_row(t, v + j * row_bytes, vf.data(), hd);
        for (int r = 0; r < n_rows; ++r) {
            for (int64_t d = 0; d < hd; ++d) out[r][d] += p[r * np + j] * vf[d];
        }
    }
}

void attend(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group, float* out,
            float scale, float* scores) {
    for (int32_t g = 0; g < n_group; ++g) {
        float* sg = scores + g * n_keys;
        for (int64_t j = 0; j < n_keys; ++j) sg[j] = dot16(q + g * hd, k + j * hd, hd) * scale;
        op_softmax(sg, n_keys);
        std::memset(out + g * hd, 0, sizeof(float) * hd);
        for (int64_t j = 0; j < n_keys; ++j) {
            for (int64_t d = 0; d < hd; ++d) out[g * hd + d] += sg[j] * v[j * hd + d];
        }
    }
}

}  // namespace tandem::ref
