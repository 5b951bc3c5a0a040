// Tensor element types, numbered as GGUF/ggml numbers them, with their block geometry.
// The table is the single source of truth for "how many bytes does a row of n elements take".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tandem {

enum class dtype : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    iq2_xxs = 16,
    iq2_xs = 17,
    iq3_xxs = 18,
    iq1_s = 19,
    iq4_nl = 20,
    iq3_s = 21,
    iq2_s = 22,
    iq4_xs = 23,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    iq1_m = 29,
    bf16 = 30,
    tq1_0 = 34,
    tq2_0 = 35,
    mxfp4 = 39,
    q1_0 = 41,  // llama.cpp's 1-bit and 2-bit (ternary) types of 2026 (GGUF ids as its build 9749 writes them)
    q2_0 = 42,
};

struct dtype_info {
    std::string_view name;  // as llama.cpp prints it: "f32", "q4_K", ...
    int64_t block_elems;    // elements per block (1 for plain types)
    size_t block_bytes;     // bytes per block
    bool computable;        // Tandem can decode it (kernels/ref's decoder table), so every kernel path runs it
};

// nullopt for ids GGUF does not define (or that ggml removed).
std::optional<dtype_info> dtype_lookup(uint32_t id);
const dtype_info& dtype_info_of(dtype t);                     // t must be a defined type
std::optional<dtype> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n elements; n must be a multiple of the block size.
inline size_t dtype_row_bytes(dtype t, int64_t n) {
    const dtype_info& info = dtype_info_of(t);
    return static_cast<size_t>(n / info.block_elems) * info.block_bytes;
}

}  // namespace tandem
