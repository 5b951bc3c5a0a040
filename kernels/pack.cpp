// The packed weight layout (pack.h), written with plain loops: it runs once per tensor at load.
#include "kernels/pack.h"

#include <cstring>
#include <type_traits>

#include "common/check.h"
#include "kernels/blocks.h"

namespace tandem {
namespace {

// A tile is 4-byte runs of the blocks' code bytes: q8_0's byte i is element i, and q4_0's byte i
// holds element i (low nibble) and element i + 16 (high nibble), which is where pack.h puts chunks
// c and c + 4 for i = 4c + e.
template <class B>
void pack_tile(const B* rows[k_pack_rows], int64_t b, uint8_t* tile) {
    constexpr int k_runs = sizeof(B::qs) / 4;
    for (int r = 0; r < k_pack_rows; ++r) std::memcpy(tile + 2 * r, &rows[r][b].d, 2);
    uint8_t* out = tile + 2 * k_pack_rows;
    for (int r = 0; r < k_pack_rows; ++r) {
        const auto* qs = reinterpret_cast<const uint8_t*>(rows[r][b].qs);
        for (int c = 0; c < k_runs; ++c) std::memcpy(out + 32 * c + 4 * r, qs + 4 * c, 4);
    }
}

// q4_K, and q5_K with its qh runs after the nibbles (B is one of the two).
template <class B>
requires(std::is_same_v<B, block_q4_k> || std::is_same_v<B, block_q5_k>) void pack_tile(const B* rows[k_pack_rows],
                                                                                        int64_t b, uint8_t* tile) {
    for (int r = 0; r < k_pack_rows; ++r) {
        const B& x = rows[r][b];
        std::memcpy(tile + 2 * r, &x.d, 2);
        std::memcpy(tile + 16 + 2 * r, &x.dmin, 2);
        uint8_t sc[8], mn[8];
        unpack_k_scales(x.scales, sc, mn);
        for (int j = 0; j < 8; ++j) {
            tile[32 + 8 * j + r] = sc[j];
            tile[96 + 8 * j + r] = mn[j];
        }
        for (int p = 0; p < 4; ++p) {
            for (int k = 0; k < 8; ++k) std::memcpy(tile + 160 + 256 * p + 32 * k + 4 * r, x.qs + 32 * p + 4 * k, 4);
        }
        if constexpr (std::is_same_v<B, block_q5_k>) {
            for (int k = 0; k < 8; ++k) std::memcpy(tile + 1184 + 32 * k + 4 * r, x.qh + 4 * k, 4);
        }
    }
}

void pack_tile(const block_q6_k* rows[k_pack_rows], int64_t b, uint8_t* tile) {
    for (int r = 0; r < k_pack_rows; ++r) {
        const block_q6_k& x = rows[r][b];
        std::memcpy(tile + 2 * r, &x.d, 2);
        for (int s = 0; s < 16; ++s) tile[16 + 8 * s + r] = static_cast<uint8_t>(x.scales[s]);
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 8; ++k) {
                uint8_t* run = tile + 144 + 96 * (8 * h + k) + 4 * r;
                for (int e = 0; e < 4; ++e) {
                    const int l = 4 * k + e;  // the 6-bit codes of elements l, l + 32, l + 64, l + 96 of the half
                    const int lo = x.ql[64 * h + l], hi = x.ql[64 * h + 32 + l], top = x.qh[32 * h + l];
                    const int v0 = (lo & 0xf) | (top & 3) << 4, v1 = (hi & 0xf) | (top >> 2 & 3) << 4;
                    const int v2 = lo >> 4 | (top >> 4 & 3) << 4, v3 = hi >> 4 | (top >> 6 & 3) << 4;
                    run[e] = static_cast<uint8_t>(v0 | (v3 & 3) << 6);
                    run[32 + e] = static_cast<uint8_t>(v1 | (v3 >> 2 & 3) << 6);
                    run[64 + e] = static_cast<uint8_t>(v2 | (v3 >> 4) << 6);
                }
            }
        }
    }
}

void pack_tile(const block_q2_k* rows[k_pack_rows], int64_t b, uint8_t* tile) {
    for (int r = 0; r < k_pack_rows; ++r) {
        const block_q2_k& x = rows[r][b];
        std::memcpy(tile + 2 * r, &x.d, 2);
        std::memcpy(tile + 16 + 2 * r, &x.dmin, 2);
        for (int s = 0; s < 16; ++s) tile[32 + 8 * s + r] = x.scales[s];
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 8; ++k) std::memcpy(tile + 160 + 32 * (8 * h + k) + 4 * r, x.qs + 32 * h + 4 * k, 4);
        }
    }
}

void pack_tile(const block_q3_k* rows[k_pack_rows], int64_t b, uint8_t* tile) {
    for (int r = 0; r < k_pack_rows; ++r) {
        const block_q3_k& x = rows[r][b];
        std::memcpy(tile + 2 * r, &x.d, 2);
        int sc[16];
        unpack_q3_k_scales(x.scales, sc);
        for (int s = 0; s < 16; ++s) tile[16 + 8 * s + r] = static_cast<uint8_t>(static_cast<int8_t>(sc[s]));
        for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 8; ++k) std::memcpy(tile + 144 + 32 * (8 * h + k) + 4 * r, x.qs + 32 * h + 4 * k, 4);
        }
        for (int k = 0; k < 8; ++k) std::memcpy(tile + 656 + 32 * k + 4 * r, x.hmask + 4 * k, 4);
    }
}

// Rows [o_begin, o_end) of a weight of blocks B, T's tiles (pack_tile above) one after another.
template <dtype T, class B>
void pack_rows(const void* w, int64_t n_in, int64_t o_begin, int64_t o_end, uint8_t* dst) {
    constexpr size_t tile = pack_tile_bytes(T);
    static_assert(tile == k_pack_rows * sizeof(B) || tile == k_pack_rows * sizeof(B) + 32, "pack.h's size of T");
    const int64_t nb = n_in / dtype_info_of(T).block_elems;
    for (int64_t o = o_begin; o < o_end; o += k_pack_rows) {
        const B* rows[k_pack_rows];
        for (int r = 0; r < k_pack_rows; ++r) rows[r] = static_cast<const B*>(w) + (o + r) * nb;
        uint8_t* group = dst + static_cast<size_t>(o / k_pack_rows * nb) * tile;
        for (int64_t b = 0; b < nb; ++b) pack_tile(rows, b, group + static_cast<size_t>(b) * tile);
    }
}

// f32 / f16 / bf16 (elements of E's size): element e of rows o..o+7 in row order, for every e.
template <typename E>
void pack_float_rows(const void* weight, int64_t n_in, int64_t o_begin, int64_t o_end, uint8_t* dst) {
    const auto* w = static_cast<const E*>(weight);
    for (int64_t o = o_begin; o < o_end; o += k_pack_rows) {
        E* group = reinterpret_cast<E*>(dst) + o * n_in;
        for (int64_t e0 = 0; e0 < n_in; e0 += 8) {  // an 8 x 8 transpose at a time (n_in is a multiple of 8)
            E t[k_pack_rows][8];
            for (int r = 0; r < k_pack_rows; ++r) std::memcpy(t[r], w + (o + r) * n_in + e0, sizeof t[r]);
            for (int e = 0; e < 8; ++e) {
                for (int r = 0; r < k_pack_rows; ++r) group[(e0 + e) * k_pack_rows + r] = t[r][e];
            }
        }
    }
}

// The packed types, each with its packer: a new one is its pack_tile_bytes in pack.h and a line here.
struct packer {
    dtype type;
    void (*pack)(const void* w, int64_t n_in, int64_t o_begin, int64_t o_end, uint8_t* dst);
};
constexpr packer k_packers[] = {
    {dtype::f32, pack_float_rows<uint32_t>},           {dtype::f16, pack_float_rows<uint16_t>},
    {dtype::bf16, pack_float_rows<uint16_t>},          {dtype::q8_0, pack_rows<dtype::q8_0, block_q8_0>},
    {dtype::q4_0, pack_rows<dtype::q4_0, block_q4_0>}, {dtype::q2_k, pack_rows<dtype::q2_k, block_q2_k>},
    {dtype::q3_k, pack_rows<dtype::q3_k, block_q3_k>}, {dtype::q4_k, pack_rows<dtype::q4_k, block_q4_k>},
    {dtype::q5_k, pack_rows<dtype::q5_k, block_q5_k>}, {dtype::q6_k, pack_rows<dtype::q6_k, block_q6_k>},
};

constexpr const packer* find_packer(dtype t) {
    for (const packer& p : k_packers)
        if (p.type == t) return &p;
    return nullptr;
}

// pack.h's sizes and this table name the same types (dtype values are below 64).
constexpr bool packers_match_sizes() {
    for (uint32_t v = 0; v < 64; ++v)
        if (pack_supported(static_cast<dtype>(v)) != (find_packer(static_cast<dtype>(v)) != nullptr)) return false;
    return true;
}
static_assert(packers_match_sizes(), "every type with a pack_tile_bytes has a packer, and only those");

bool is_float(dtype t) {
    return t == dtype::f32 || t == dtype::f16 || t == dtype::bf16;
}

}  // namespace

int64_t pack_tile_elems(dtype t) {
    return is_float(t) ? 8 : dtype_info_of(t).block_elems;
}

size_t pack_bytes(dtype t, int64_t n_out, int64_t n_in) {
    TANDEM_CHECK(pack_supported(t));
    return pack_tile_bytes(t) * static_cast<size_t>(n_out / k_pack_rows * (n_in / pack_tile_elems(t)));
}

void pack_weight(dtype t, const void* w, int64_t n_in, int64_t o_begin, int64_t o_end, void* dst) {
    TANDEM_CHECK(pack_supported(t) && n_in % pack_tile_elems(t) == 0);
    TANDEM_CHECK(o_begin % k_pack_rows == 0 && o_end % k_pack_rows == 0 && o_begin <= o_end);
    find_packer(t)->pack(w, n_in, o_begin, o_end, static_cast<uint8_t*>(dst));
}

}  // namespace tandem
