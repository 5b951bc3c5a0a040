// The scalar reference kernels: the oracle every SIMD kernel is tested against. Plain loops over
// the block definitions, no tricks; always built.
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"
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

// The pieces of attention, as cpu::attention_kernels: plain loops, K and V rows decoded to floats
// (q8_0 / q4_0 K against the query's codes, in integers per block).
void attn_scores(dtype t, const cpu::attn_row_q* q, int n_rows, const uint8_t* k, size_t row_bytes, int n, int64_t hd,
                 float scale, float* s, int64_t ns);
float attn_softmax_step(float* s, int n, float* m, float* l);
void attn_accumulate(dtype t, const float* p, int64_t np, int n_rows, const uint8_t* v, size_t row_bytes, int n,
                     int64_t hd, const float* c, float* const* out);

// Attention of the n_group query heads q (n_group x hd) over n_keys K and V rows (n_keys x hd
// each, all visible) into out (n_group x hd), in plain loops; scores: n_group * n_keys floats.
void attend(const float* k, const float* v, int64_t n_keys, int64_t hd, const float* q, int32_t n_group, float* out,
            float scale, float* scores);

}  // namespace tandem::ref
