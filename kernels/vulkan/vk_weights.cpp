// The upload side of the device weight formats: which format a type takes, its size, and the repack
// of q8_0 / q4_0 (the other block types are copied as they are).
#include "kernels/vulkan/vk_weights.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"
#include "kernels/blocks.h"
#include "kernels/fp16.h"
#include "kernels/iq_grids.h"
#include "kernels/quant.h"

namespace tandem::vk {
namespace {

struct raw_entry {
    dtype t;
    weight_format f;
};

// The types the shaders read in GGUF's own block layout.
constexpr raw_entry k_raw[] = {
    {dtype::q4_1, weight_format::q4_1},       {dtype::q5_0, weight_format::q5_0},
    {dtype::q5_1, weight_format::q5_1},       {dtype::q2_k, weight_format::q2_k},
    {dtype::q3_k, weight_format::q3_k},       {dtype::q4_k, weight_format::q4_k},
    {dtype::q5_k, weight_format::q5_k},       {dtype::q6_k, weight_format::q6_k},
    {dtype::iq4_nl, weight_format::iq4_nl},   {dtype::iq4_xs, weight_format::iq4_xs},
    {dtype::mxfp4, weight_format::mxfp4},     {dtype::q1_0, weight_format::q1_0},
    {dtype::q2_0, weight_format::q2_0},       {dtype::tq1_0, weight_format::tq1_0},
    {dtype::tq2_0, weight_format::tq2_0},     {dtype::iq2_xxs, weight_format::iq2_xxs},
    {dtype::iq2_xs, weight_format::iq2_xs},   {dtype::iq2_s, weight_format::iq2_s},
    {dtype::iq3_xxs, weight_format::iq3_xxs}, {dtype::iq3_s, weight_format::iq3_s},
    {dtype::iq1_s, weight_format::iq1_s},     {dtype::iq1_m, weight_format::iq1_m},
};

bool is_raw(weight_format f) {
    return f >= weight_format::q4_1;
}

void repack_q8_0(const uint8_t* src, int64_t n_blocks, uint32_t* out) {
    const auto* b = reinterpret_cast<const block_q8_0*>(src);
    uint32_t* codes = out + n_blocks;
    for (int64_t i = 0; i < n_blocks; ++i) {
        const float d = fp16_to_f32(b[i].d);
        std::memcpy(&out[i], &d, 4);
        std::memcpy(codes + i * 8, b[i].qs, 32);
    }
}

void repack_q4_0(const uint8_t* src, int64_t n_blocks, uint32_t* out) {
    const auto* b = reinterpret_cast<const block_q4_0*>(src);
    uint32_t* codes = out + n_blocks;
    for (int64_t i = 0; i < n_blocks; ++i) {
        const float d = fp16_to_f32(b[i].d);
        std::memcpy(&out[i], &d, 4);
        for (int w = 0; w < 4; ++w) {  // word w: elements 8w .. 8w + 7
            uint32_t word = 0;
            for (int m = 0; m < 8; ++m) {
                const int e = 8 * w + m;
                const uint32_t q = e < 16 ? b[i].qs[e] & 0xf : b[i].qs[e - 16] >> 4;
                word |= q << (4 * m);
            }
            codes[i * 4 + w] = word;
        }
    }
}

}  // namespace

std::vector<uint32_t> codebook_words() {
    std::vector<uint32_t> w;
    w.reserve(8448);
    const auto points8 = [&](const uint64_t* grid, size_t n) {
        for (size_t i = 0; i < n; ++i) {
            w.push_back(static_cast<uint32_t>(grid[i]));
            w.push_back(static_cast<uint32_t>(grid[i] >> 32));
        }
    };
    points8(k_iq2xxs_grid, 256);
    points8(k_iq2xs_grid, 512);
    points8(k_iq2s_grid, 1024);
    w.insert(w.end(), k_iq3xxs_grid, k_iq3xxs_grid + 256);
    w.insert(w.end(), k_iq3s_grid, k_iq3s_grid + 512);
    points8(k_iq1s_grid, 2048);
    TANDEM_CHECK(w.size() == 8448);
    return w;
}

weight_format format_for(dtype t, int64_t n_in) {
    switch (t) {
        case dtype::f16:
            return n_in % 2 == 0 ? weight_format::f16 : weight_format::f32;
        case dtype::bf16:
            return n_in % 2 == 0 ? weight_format::bf16 : weight_format::f32;
        case dtype::q8_0:
            return weight_format::q8_0;
        case dtype::q4_0:
            return weight_format::q4_0;
        default:
            for (const raw_entry& e : k_raw)
                if (e.t == t) return e.f;
            return weight_format::f32;
    }
}

uint32_t unit_elems(weight_format f) {
    switch (f) {
        case weight_format::f32:
            return 1;
        case weight_format::f16:
        case weight_format::bf16:
            return 2;
        case weight_format::q8_0:
            return 4;
        case weight_format::q4_0:
            return 8;
        default:
            return 16;
    }
}

uint64_t part_words(dtype t, int64_t rows, int64_t n_in) {
    const weight_format f = format_for(t, n_in);
    const auto n = static_cast<uint64_t>(rows) * static_cast<uint64_t>(n_in);
    if (is_raw(f)) return (static_cast<uint64_t>(rows) * dtype_row_bytes(t, n_in) + 3) / 4 + 1;
    switch (f) {
        case weight_format::q8_0:
            return n / 32 + n / 4;
        case weight_format::q4_0:
            return n / 32 + n / 8;
        case weight_format::f16:
        case weight_format::bf16:
            return n / 2;
        default:
            return n;
    }
}

int64_t rows_per_part(dtype t, int64_t n_in, uint64_t max_bytes) {
    // Raw rows need not end on a word: the part's bytes round up to a word, plus the padding word.
    const bool raw = is_raw(format_for(t, n_in));
    const uint64_t row_bytes = raw ? dtype_row_bytes(t, n_in) : 4 * part_words(t, 1, n_in);
    const uint64_t room = raw ? (max_bytes / 4 > 1 ? (max_bytes / 4 - 1) * 4 : 0) : max_bytes;
    return std::max<int64_t>(1, static_cast<int64_t>(room / row_bytes));
}

std::vector<uint32_t> repack_rows(dtype t, const void* data, int64_t n_in, int64_t row0, int64_t rows) {
    const weight_format f = format_for(t, n_in);
    const size_t row_bytes = dtype_row_bytes(t, n_in);
    const auto* src = static_cast<const uint8_t*>(data) + static_cast<size_t>(row0) * row_bytes;
    std::vector<uint32_t> out(part_words(t, rows, n_in));
    if (is_raw(f) || f == weight_format::f16 || f == weight_format::bf16) {
        std::memcpy(out.data(), src, static_cast<size_t>(rows) * row_bytes);
    } else if (f == weight_format::q8_0) {
        repack_q8_0(src, rows * n_in / 32, out.data());
    } else if (f == weight_format::q4_0) {
        repack_q4_0(src, rows * n_in / 32, out.data());
    } else {
        TANDEM_CHECK(f == weight_format::f32);
        for (int64_t r = 0; r < rows; ++r)
            dequantize_row(t, src + static_cast<size_t>(r) * row_bytes, reinterpret_cast<float*>(out.data()) + r * n_in,
                           n_in);
    }
    return out;
}

}  // namespace tandem::vk
