// Weights in the layouts the Vulkan shaders read (each a uint32 array, so no shader needs 8- or
// 16-bit storage access):
//   f32    the floats as they are;
//   f16    the halves as they are, two per word (rows of an even length);
//   q8_0   the block scales as f32 (n_out * n_in/32 words), then the codes, four int8 per word;
//   q4_0   the block scales as f32, then the codes, eight 4-bit (q + 8) per word in element order
//          (GGUF's q4_0 holds element j and j + 16 in one byte: repacked here once, at upload);
//   other types are decoded to f32 at upload (correct; memory-heavy until they get shaders of their own).
// A tensor larger than the device's storage buffer range is split into parts of whole rows, each
// laid out as above on its own.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/types.h"

namespace tandem::vk {

enum class weight_format : uint32_t { f32 = 0, f16 = 1, q8_0 = 2, q4_0 = 3 };

// The device format a GGUF type is uploaded in.
weight_format format_for(dtype t, int64_t n_in);

// Words of a part of `rows` rows of n_in elements in format f.
uint64_t part_words(weight_format f, int64_t rows, int64_t n_in);

// Rows [row0, row0 + rows) of a GGUF tensor of type t (rows of n_in elements at `data`) in the
// device format f = format_for(t, n_in).
std::vector<uint32_t> repack_rows(dtype t, const void* data, int64_t n_in, int64_t row0, int64_t rows);

}  // namespace tandem::vk
