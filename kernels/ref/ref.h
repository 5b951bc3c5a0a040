// The scalar reference kernels: the oracle every SIMD kernel is tested against. Plain loops over
// the block definitions, no tricks; always built.
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace tandem::ref {

// Decodes n elements (a multiple of the block size) of one row.
using row_decoder = void (*)(const void* src, float* dst, int64_t n);
// The decoder of t, nullptr for a type Tandem cannot decode. The decoder table is the one place a
// weight type is added: a type with a decoder is computable (dtype_info::computable).
row_decoder row_decoder_for(dtype t);

// Decodes n elements (a multiple of the block size) of any computable type.
void dequantize_row(dtype t, const void* src, float* dst, int64_t n);

// Encodes n floats as f32, f16, bf16, q8_0, q4_0, q4_1, q5_0 or q5_1 (throws tandem::error otherwise).
// Quantized types round with the scale as stored (f16), so the error bound follows from the stored scale.
void quantize_row(dtype t, const float* src, void* dst, int64_t n);
bool quantize_supported(dtype t);

// y[r * n_out + o] = sum_i W[o][i] * x[r * n_in + i], exact (double accumulation).
void matmul(dtype wt, const void* w, int64_t n_out, int64_t n_in, const float* x, int64_t n_rows, float* y);

// The pieces of attention (cpu::attention_kernels' contract): s[j] = scale * q . k_j over n rows of
// hd floats; out[d] += sum_j p[j] * v[j * hd + d], one chain per column over the rows in order.
void attn_scores(const float* q, const float* k, int64_t n, int64_t hd, float scale, float* s);
void attn_accumulate(const float* p, const float* v, int64_t n, int64_t hd, float* out);

// Attention of the n_group query heads q (n_group x hd) over n_keys K and V rows (n_keys x hd
// each, all visible) into out (n_group x hd), in plain loops; scores: n_group * n_keys floats.
void attend(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group, float* out,
            float scale, float* scores);

}  // namespace tandem::ref
