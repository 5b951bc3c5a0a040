// Weights repacked at load into the layout the many-row int8 kernels read fastest: the blocks of 8
// consecutive weight rows interleaved, so that one 256-bit load holds 4 elements of each of the 8
// rows and an int32 lane of the product is one output row's partial sum (no horizontal sums, and
// one float step per block for 8 outputs). Only for levels with a kernel for it (matmul_packs); the
// GGUF bytes stay mapped, and matmul reads them whenever the active level has no packed kernel.
//
// A weight of n_out rows (a multiple of 8) of nb blocks becomes n_out / 8 groups, group g holding
// its nb tiles in block order.
//   q8_0, q4_0 (32-element blocks): a tile holds the 8 rows' f16 scales d (row order), then their
//   codes in 8 chunks of 32 bytes, chunk c for elements 4c..4c+3: byte 4 * row + e is element
//   4c + e of that row. q8_0: the signed codes, one per byte (272-byte tiles: 8 blocks of 34).
//   q4_0: the unsigned nibbles u (value (u - 8) * d); chunk c < 4 in the low nibbles and chunk
//   c + 4 in the high nibbles of the same 32 bytes (144-byte tiles: 8 blocks of 18). So these
//   take exactly the bytes of the original tensor.
//   q4_K (256-element super-blocks): the 8 rows' d, then their dmin (f16, 16 bytes each), the
//   six-bit sub-block scales as bytes (byte 8j + row: sub-block j), the mins likewise, then the
//   nibbles: sub-blocks 2p and 2p + 1 (low / high nibbles) of pair p in 8 runs of 32 bytes, run k
//   holding elements 4k..4k+3 of both sub-blocks, byte 4 * row + e (1184-byte tiles: 8 blocks of
//   144 and 32 bytes of unpacked scales, 2.8% more than the original).
//   q5_K: as q4_K, then the qh bytes in 8 runs of 32 bytes, run k holding bytes 4k..4k+3 of each
//   row (bit j of qh byte l: the 5th bit of element l of sub-block j) (1440-byte tiles, 2.3% more).
//   f32, f16, bf16 (n_in a multiple of 8): tiles of 8 elements, element e of the 8 rows in row order
//   (32 or 16 bytes), so one load (and conversion) gives 8 outputs' weights for one activation
//   element (256- or 128-byte tiles: exactly the original bytes).
//   q6_K: the 8 rows' d (f16), the signed sub-block scales (byte 16 + 8s + row: the scale of
//   elements 16s..16s+15), then for each half h (128 elements) and run k (0..7) 96 bytes, three
//   parts of 32 (4 bytes per row each) holding the 6-bit codes v0..v3 of elements l, 32 + l, 64 + l,
//   96 + l of the half (l = 4k..4k+3) whole: part 0 byte v0 | (bits 0-1 of v3) << 6, part 1 v1 |
//   (bits 2-3 of v3) << 6, part 2 v2 | (bits 4-5 of v3) << 6, so v0..v2 are one mask away and v3
//   three shifts and masks (the original nibbles and 2-bit fields took 17 operations for the four)
//   (1680-byte tiles: exactly 8 blocks of 210).
//   q2_K: the 8 rows' d, then their dmin (f16), the scale bytes as stored (byte 32 + 8s + row:
//   sub-block s's scale in the low nibble, its min in the high), then for each half h and run k
//   (0..7) 32 bytes, byte 4 * row + e holding qs[32h + 4k + e] of that row, whose bits 2j, 2j + 1
//   are the code of element 128h + 32j + 4k + e (672-byte tiles: exactly 8 blocks of 84).
//   q3_K: the 8 rows' d (f16), their signed scales unpacked to bytes (byte 16 + 8s + row: sub-block
//   s, minus 32 already taken), the 2-bit codes' runs as q2_K's from byte 144, then the hmask bytes in
//   8 runs of 32, run k holding bytes 4k..4k+3 of each row (bit 4h + j of hmask byte l: the third bit
//   of element 128h + 32j + l) (912-byte tiles: 8 blocks of 110 and 32 bytes of unpacked scales, 3.6%
//   more).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/types.h"

namespace tandem {

constexpr int64_t k_pack_rows = 8;  // weight rows per interleaved group

// Bytes of one tile (8 rows x pack_tile_elems) of each type with a packed layout, as described above
// (8 blocks, plus 32 bytes where the scales are unpacked); 0 for the others. The one place these sizes
// are written: pack.cpp and the kernels read them here.
constexpr size_t pack_tile_bytes(dtype t) {
    switch (t) {
        case dtype::f32:
            return k_pack_rows * 8 * 4;
        case dtype::f16:
        case dtype::bf16:
            return k_pack_rows * 8 * 2;
        case dtype::q8_0:
            return k_pack_rows * sizeof(block_q8_0);
        case dtype::q4_0:
            return k_pack_rows * sizeof(block_q4_0);
        case dtype::q2_k:
            return k_pack_rows * sizeof(block_q2_k);
        case dtype::q3_k:
            return k_pack_rows * sizeof(block_q3_k) + 32;
        case dtype::q4_k:
            return k_pack_rows * sizeof(block_q4_k) + 32;
        case dtype::q5_k:
            return k_pack_rows * sizeof(block_q5_k) + 32;
        case dtype::q6_k:
            return k_pack_rows * sizeof(block_q6_k);
        default:
            return 0;
    }
}

// Types with a packed layout (the layout exists whatever the level; matmul_packs asks the level).
constexpr bool pack_supported(dtype t) {
    return pack_tile_bytes(t) != 0;
}
// Elements of a row one tile covers (the block size; 8 for the float types).
int64_t pack_tile_elems(dtype t);
// Bytes of a whole packed weight.
size_t pack_bytes(dtype t, int64_t n_out, int64_t n_in);

// Writes the packed layout of w (n_out x n_in of type t, n_out a multiple of k_pack_rows) to dst,
// which holds pack_bytes(t, n_out, n_in) bytes. Rows [o_begin, o_end) only (multiples of 8),
// so callers can split the work.
void pack_weight(dtype t, const void* w, int64_t n_in, int64_t o_begin, int64_t o_end, void* dst);

}  // namespace tandem
