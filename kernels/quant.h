// Encoding and decoding of rows of any computable type, dispatched to the best SIMD level.
#pragma once

#include <cstdint>

#include "kernels/types.h"

namespace tandem {

// Dequantize n elements (n a multiple of the block size) of type t to f32. All "computable" types in types.cpp:
// f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_nl, iq4_xs, mxfp4.
void dequantize_row(dtype t, const void* src, float* dst, int64_t n);
// Quantize n floats to type t: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1 (used for the KV cache).
// Throws tandem::error for other types or a length that is not a multiple of the block size.
void quantize_row(dtype t, const float* src, void* dst, int64_t n);
bool quantize_row_supported(dtype t);

}  // namespace tandem
