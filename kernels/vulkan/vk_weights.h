// Weights in the layouts the Vulkan shaders read (shaders/weights.glsl decodes them; each a uint32
// array, so no shader needs 8- or 16-bit storage access):
//   f32    the floats as they are;
//   f16    the halves as they are, two per word (rows of an even length);
//   q8_0   the block scales as f32 (n_out * n_in/32 words), then the codes, four int8 per word
//          (36 bytes per block of 32, GGUF's 34);
//   q4_0   the block scales as f32, then the codes, eight 4-bit (q + 8) per word in element order
//          (GGUF's q4_0 holds element j and j + 16 in one byte: repacked here once, at upload; 20
//          bytes per block, GGUF's 18);
//   every other computable type (bf16 with rows of an even length, q4_1, q5_0, q5_1, q2_K ... q6_K,
//          iq4_nl, iq4_xs, mxfp4, q1_0, q2_0, tq1_0, tq2_0, the IQ1 / IQ2 / IQ3 codebook types, whose
//          codebooks are a buffer of their own: codebook_words): the GGUF bytes as they are, rows back to
//          back, plus one padding word per part (the shaders read any 4 bytes as two words); the
//          device holds what the file holds.
// f16 and bf16 rows of an odd length are decoded to f32 at upload (only tiny tensors have them).
// A tensor larger than the device's storage buffer range is split into parts of whole rows, each
// laid out as above on its own.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/types.h"

namespace tandem::vk {

// The shaders' FORMAT specialization constant (weights.glsl numbers them the same).
enum class weight_format : uint32_t {
    f32 = 0,
    f16 = 1,
    q8_0 = 2,
    q4_0 = 3,
    bf16 = 4,
    q4_1 = 5,
    q5_0 = 6,
    q5_1 = 7,
    q2_k = 8,
    q3_k = 9,
    q4_k = 10,
    q5_k = 11,
    q6_k = 12,
    iq4_nl = 13,
    iq4_xs = 14,
    mxfp4 = 15,
    q1_0 = 16,
    q2_0 = 17,
    tq1_0 = 18,
    tq2_0 = 19,
    iq2_xxs = 20,
    iq2_xs = 21,
    iq2_s = 22,
    iq3_xxs = 23,
    iq3_s = 24,
    iq1_s = 25,
    iq1_m = 26,
};

// The IQ1 / IQ2 / IQ3 codebooks (kernels/iq_grids.h) as the words of one buffer, which the matmul and
// embedding shaders read at binding 3 (weights.glsl): iq2xxs at word 0 (256 points of two words),
// iq2xs at 512, iq2s at 1536, iq3xxs at 3584 (one word a point), iq3s at 3840, iq1s at 4352; 8448 words.
std::vector<uint32_t> codebook_words();

// The device format a GGUF type is uploaded in.
weight_format format_for(dtype t, int64_t n_in);

// Consecutive elements of a row one shader invocation decodes at a time in format f (1 to 16).
uint32_t unit_elems(weight_format f);

// Words of a part of `rows` rows of n_in elements of type t on the device.
uint64_t part_words(dtype t, int64_t rows, int64_t n_in);

// The most rows of n_in elements of type t one part of at most max_bytes holds (at least 1).
int64_t rows_per_part(dtype t, int64_t n_in, uint64_t max_bytes);

// Rows [row0, row0 + rows) of a GGUF tensor of type t (rows of n_in elements at `data`) in the
// device format f = format_for(t, n_in).
std::vector<uint32_t> repack_rows(dtype t, const void* data, int64_t n_in, int64_t row0, int64_t rows);

}  // namespace tandem::vk
