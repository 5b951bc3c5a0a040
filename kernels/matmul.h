// The matrix multiplication of the forward pass: quantized weights (as mmapped from GGUF) times f32
// activation rows. Each weight block is read once for a tile of activation rows. Batch invariant:
// output row r is bitwise the same whatever n_rows, the other rows and the thread count are.
#pragma once

#include <cstdint>

#include "kernels/thread_pool.h"
#include "kernels/types.h"

namespace tandem {

// y[r * n_out + o] = sum_i W[o][i] * x[r * n_in + i]  for r < n_rows, o < n_out.
// W: n_out rows of n_in elements of type wt (row o at w + o * dtype_row_bytes(wt, n_in)), e.g. straight from an mmapped
// GGUF tensor.
// packed: w in the layout of kernels/pack.h (pack_weight), or null. matmul reads it where the active
// level has a packed kernel for wt (matmul_packs), and w otherwise.
void matmul(dtype wt, const void* w, int64_t n_out, int64_t n_in, const float* x, int64_t n_rows, float* y,
            thread_pool& pool, const void* packed = nullptr);

// Whether matmul at the active level reads a packed copy of such a weight (kernels/pack.h), with its
// own packed kernel or a lower level's: worth packing at load. (A level set later without one, the
// scalar level, reads the original.)
bool matmul_packs(dtype wt, int64_t n_out, int64_t n_in);

// How many consecutive activation elements share one 8-bit scale when matmul meets weights of type wt
// at the active dispatch level (llama.cpp's q8_0 / q8_K: 32, or 256 for the packed K-quants and the
// K-quants at AVX2), or 0 where it computes in f32 (float weights, or the scalar level). `packed`: for
// a packed copy of the weight (matmul_packs), which a lower level's packed kernel may read.
int64_t matmul_act_block(dtype wt, bool packed = false);

}  // namespace tandem
