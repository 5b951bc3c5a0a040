// AVX2 int8 matmul over packed weights (kernels/pack.h): 8 weight rows x R activation rows per
// register tile. A chunk load holds 4 elements of each of the 8 rows; the 4 activation codes of the
// same elements, broadcast, meet it in one maddubs, so int32 lane i sums row i. A block's integer
// sums take one float step for all 8 outputs: y += d_w * (d_x * sum) (q8_0), or with q4_0's offset
// of 8, y += d_w * (d_x * sum - 8 * s_x) where s_x = d_x * (sum of the block's activation codes).
// The block sum is exact in integers and the float steps run in block order, so an output's
// arithmetic is the same whatever R, the other rows and the thread split are (batch invariance).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/pack.h"

namespace tandem::cpu {
namespace {

constexpr int64_t k_prefetch_bytes = 1024;

inline __m256i broadcast4(const int8_t* x) {
    int32_t v;
    __builtin_memcpy(&v, x, 4);
    return _mm256_set1_epi32(v);
}

// The hardware prefetcher stops at 4 KiB pages, so the K-quant tiles fetch the super-block tile two
// ahead explicitly, into L2 (a tile's 19-27 lines at once overflow L1's fill buffers: into L1, 1-row
// q4_K / q6_K read 23 GB/s on 2048x8192, into L2 24.5-25). Several streams fetch the same way: on
// Zen 3 (DRAM-cold 2048x8192, 2 threads, 1 row, 4 streams) spreading a tile's lines over its
// sub-blocks into L1 took q4_K from 0.33 to 0.40 ms and q6_K from 0.56 to 0.76, bunched into L2 0.32.
template <int64_t k_tile>
[[gnu::always_inline]] inline void prefetch_tile_ahead(const uint8_t* tile) {
    for (int64_t off = 0; off < k_tile; off += 64)
        _mm_prefetch(reinterpret_cast<const char*>(tile) + 2 * k_tile + off, _MM_HINT_T1);
}

// q4_K tiles of one or two rows stream their weights from DRAM, and with the prefetch above read them
// 16% slower than q4_0 tiles read as many bytes (DRAM-cold bench_kernels, 2 threads, 1 row of
// 8192x2048 and 2048x8192, 8 interleaved pairs). Instead each load of a run fetches what is 1 KiB
// ahead of it into L1: one prefetch per 32 bytes read, each line asked for 4 times (q4_0's prefetch asks
// for a third of its lines twice). Time 0.85x (a line asked for once: 0.96x), within 5% of q4_0's;
// llama-1b Q4_K_M bench_steps, 12 interleaved pairs, 1-row step 28.4 -> 26.2 ms, 2-row (8 pairs)
// 30.3 -> 26.3 ms. q2_K and q3_K tiles of 1-2 rows prefetch the same way; q6_K's single stream ran
// slower this way (1 row 1.18x, 2 rows 1.10x) and keeps the prefetch above.
[[gnu::always_inline]] inline void prefetch_ahead(const uint8_t* p) {
    _mm_prefetch(reinterpret_cast<const char*>(p) + k_prefetch_bytes, _MM_HINT_T0);
}

// Weight streams a tile of one or two activation rows reads at once (P::k_streams): groups far
// apart in the thread's range (matmul_groups). Few rows do little arithmetic per weight byte, and a
// core reading one stream leaves DRAM idle between the hardware prefetcher's runs. DRAM-cold
// matmuls, 2 threads, 1 stream -> 4: on Intel (weights rotating through 1.3 GB, GB/s) 1 row q4_0
// 8192x2048 24.3 -> 31.1, q8_0 26.1 -> 31.7, q4_K 23.0 -> 28.7; 2 rows q8_0 22.9 -> 30.6. On Zen 3
// (bench_kernels, 8192x2048, ms, medians) 1 row q4_0 0.32 -> 0.20, q8_0 0.60 -> 0.50, q4_K 0.35 ->
// 0.33; 2 rows q8_0 0.65 -> 0.49; but q5_K and q6_K lose there (q6_K 1 row 0.57 -> 0.74), and from 3
// rows on 2 streams lose for every type (4 rows q4_K 0.39 -> 0.61, q4_0 0.43 -> 0.65).
constexpr int64_t k_stream_rows = 2;
template <class P>
constexpr int streams_of(int64_t rows) {
    return rows <= k_stream_rows ? P::k_streams : 1;
}

// The 8 rows' scale bytes of one sub-block (s8's low 8 bytes, row order) as int16, row i's in both halves
// of lane i: the madd operand that scales that sub-block's int16 pair sums, signed or unsigned bytes.
template <bool k_signed>
inline __m256i row_scales16(__m128i s8) {
    const __m128i twice = _mm_unpacklo_epi8(s8, s8);
    return k_signed ? _mm256_cvtepi8_epi16(twice) : _mm256_cvtepu8_epi16(twice);
}

// G groups of 8 weight rows, `stride` groups apart (each nb tiles of P::k_tile bytes), against
// activation rows r0..r0 + R - 1: y[r][8 * stride * g .. + 7]. P::block<R>(tile, x, b, acc) adds
// block b of one group.
template <class P, int R, int G>
void tile_groups(const uint8_t* group, int64_t stride, int64_t nb, const act_q8& a, int64_t r0, float* y,
                 int64_t n_out) {
    const act_rows<R> x(a, r0);
    const int64_t step = stride * nb * P::k_tile;
    __m256 acc[G][R];
    for (int g = 0; g < G; ++g)
        for (int r = 0; r < R; ++r) acc[g][r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        if constexpr (requires { P::template blocks<R, G>(group, step, x, b, acc); }) {
            P::template blocks<R, G>(group + b * P::k_tile, step, x, b, acc);
        } else {
            for (int g = 0; g < G; ++g) P::template block<R>(group + g * step + b * P::k_tile, x, b, acc[g]);
        }
    }
    for (int g = 0; g < G; ++g)
        for (int r = 0; r < R; ++r) _mm256_storeu_ps(y + r * n_out + 8 * stride * g, acc[g][r]);
}

// q8_0 and q4_0: block b of one group of 8 weight rows against activation rows x, into acc[r]. Their
// prefetch, a block's 3-5 lines 1 KiB ahead, is spread over the blocks for one stream or several.
template <class P, int R>
[[gnu::always_inline]] inline void block_acc(const uint8_t* tile, const act_rows<R>& x, int64_t b, __m256* acc) {
    _mm_prefetch(reinterpret_cast<const char*>(tile) + k_prefetch_bytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(tile) + k_prefetch_bytes + 64, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(tile) + k_prefetch_bytes + 128, _MM_HINT_T0);
    if constexpr (P::k_tile > 192) {
        _mm_prefetch(reinterpret_cast<const char*>(tile) + k_prefetch_bytes + 192, _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(tile) + k_prefetch_bytes + 256, _MM_HINT_T0);
    }
    const int8_t* xb[R];
    for (int r = 0; r < R; ++r) xb[r] = x.q[r] + 32 * b;
    __m256i isum[R];
    P::template block_sums<R>(tile + 16, xb, isum);
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile)));
    const __m256 offset = _mm256_set1_ps(P::k_offset);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(isum[r]), _mm256_broadcast_ss(x.d[r] + b));
        if constexpr (P::k_offset != 0.0f) t = _mm256_fmadd_ps(offset, _mm256_broadcast_ss(x.s[r] + b), t);
        acc[r] = _mm256_fmadd_ps(dw, t, acc[r]);
    }
}

// q8_0: signed codes, through the sign trick (maddubs(|w|, sign(x, w)) == w * x); a pair of
// products can reach 2 * 128 * 127, so each maddubs is widened to int32 at once.
struct packed_q8_0 {
    static constexpr dtype k_type = dtype::q8_0;
    static constexpr int64_t k_tile = pack_tile_bytes(k_type);
    template <int R>
    static void block_sums(const uint8_t* codes, const int8_t* const* x, __m256i* isum) {
        const __m256i ones = _mm256_set1_epi16(1);
        for (int r = 0; r < R; ++r) isum[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
            const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32 * c));
            const __m256i aw = _mm256_sign_epi8(w, w);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(broadcast4(x[r] + 4 * c), w));
                isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(p, ones));
                pin(isum[r]);
            }
        }
    }
    static constexpr float k_offset = 0.0f;
    static constexpr int64_t k_block = 32;
    // Activation rows per register tile (16 rows of 768x2048: 0.247 ms at 4, 0.234 at 6).
    static constexpr int k_rows = 6;
    static constexpr int k_streams = 4;  // at 1-2 rows (streams_of)
    template <int R>
    [[gnu::always_inline]] static void block(const uint8_t* tile, const act_rows<R>& x, int64_t b, __m256* acc) {
        block_acc<packed_q8_0, R>(tile, x, b, acc);
    }
};

// q4_0: unsigned nibbles u in [0, 15]; a pair reaches 2 * 15 * 127 = 3810, so the 8 chunks of a
// block sum in int16 (at most 30480) and widen once.
struct packed_q4_0 {
    static constexpr dtype k_type = dtype::q4_0;
    static constexpr int64_t k_tile = pack_tile_bytes(k_type);
    template <int R>
    static void block_sums(const uint8_t* codes, const int8_t* const* x, __m256i* isum) {
        const __m256i mask = _mm256_set1_epi8(0x0f);
        __m256i s16[R];
        for (int r = 0; r < R; ++r) s16[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 4; ++c) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32 * c));
            const __m256i lo = _mm256_and_si256(v, mask), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(lo, broadcast4(x[r] + 4 * c)));
                s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(hi, broadcast4(x[r] + 4 * c + 16)));
                pin(s16[r]);
            }
        }
        const __m256i ones = _mm256_set1_epi16(1);
        for (int r = 0; r < R; ++r) isum[r] = _mm256_madd_epi16(s16[r], ones);
    }
    static constexpr float k_offset = -8.0f;
    static constexpr int64_t k_block = 32;
    static constexpr int k_rows = 6;  // 4: 156 GFLOP/s, 6: 164
    static constexpr int k_streams = 4;
    template <int R>
    [[gnu::always_inline]] static void block(const uint8_t* tile, const act_rows<R>& x, int64_t b, __m256* acc) {
        block_acc<packed_q4_0, R>(tile, x, b, acc);
    }
};

// q4_K, one super-block of 8 rows at a time: per sub-block j, 8 runs of maddubs(nibbles, codes) sum in
// int16 (at most 8 * 2 * 15 * 127 = 30480), then madd with the rows' six-bit scales (each int16 pair
// of lane i: row i's scale) into the super-block's int32 sums (at most 8 * 2 * 30480 * 63). Then
// y += d_w * d_x * sum - dmin_w * sum_j min_j * s_x[j], s_x[j] = d_x * (sum of sub-block j's codes).
// Activations have one scale per super-block (act_block 256).
// q5_K (k_five) adds the 5th bits, interleaved as the nibbles after them (qh runs), and as its codes
// reach 31 (a pair 2 * 31 * 127 = 7874) widens every 4 runs instead of 8.
template <bool k_five, int R, int G>
[[gnu::always_inline]] inline void k_super_blocks(const uint8_t* tile, int64_t step, const act_rows<R>& x, int64_t sb,
                                                  __m256 (*acc)[R]) {
    constexpr int64_t k_tile = pack_tile_bytes(k_five ? dtype::q5_k : dtype::q4_k);
    constexpr int k_widen = k_five ? 4 : 8;  // runs summed in int16 before madd
    const __m256i mask = _mm256_set1_epi8(0x0f);
    constexpr bool k_spread = !k_five && R <= k_stream_rows;  // the prefetch, see above
    if constexpr (!k_spread)
        for (int g = 0; g < G; ++g) prefetch_tile_ahead<k_tile>(tile + g * step);
    __m256i isum[G][R] = {};
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
        const int64_t runs = 160 + 256 * (j / 2);
        const int shift = 4 * (j % 2);
#pragma GCC unroll 2
        for (int k0 = 0; k0 < 8; k0 += k_widen) {
            __m256i s16[G][R];
            for (int g = 0; g < G; ++g)
                for (int r = 0; r < R; ++r) s16[g][r] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int k = k0; k < k0 + k_widen; ++k) {
                // The same 4 activation codes meet every group's run: broadcast once for all G.
                __m256i xr[R];
                for (int r = 0; r < R; ++r) xr[r] = broadcast4(x.q[r] + 256 * sb + 32 * j + 4 * k);
#pragma GCC unroll 4
                for (int g = 0; g < G; ++g) {
                    const uint8_t* t = tile + g * step;
                    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + runs + 32 * k));
                    if constexpr (k_spread) prefetch_ahead(t + runs + 32 * k);
                    __m256i u = _mm256_and_si256(_mm256_srli_epi16(v, shift), mask);
                    if constexpr (k_five) {  // bit j of the qh byte, as 0x10
                        const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + 1184 + 32 * k));
                        const __m256i bit = j <= 4 ? _mm256_slli_epi16(hb, 4 - j) : _mm256_srli_epi16(hb, j - 4);
                        u = _mm256_or_si256(u, _mm256_and_si256(bit, _mm256_set1_epi8(0x10)));
                    }
#pragma GCC unroll 8
                    for (int r = 0; r < R; ++r) {
                        s16[g][r] = _mm256_add_epi16(s16[g][r], _mm256_maddubs_epi16(u, xr[r]));
                        pin(s16[g][r]);
                    }
                }
            }
            for (int g = 0; g < G; ++g) {
                const __m256i sc = row_scales16<false>(
                    _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + g * step + 32 + 8 * j)));
                for (int r = 0; r < R; ++r) {
                    isum[g][r] = _mm256_add_epi32(isum[g][r], _mm256_madd_epi16(s16[g][r], sc));
                    pin(isum[g][r]);
                }
            }
        }
    }
    for (int g = 0; g < G; ++g) {
        const uint8_t* t = tile + g * step;
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t + 16)));
        __m256 mins[8];
        for (int j = 0; j < 8; ++j)
            mins[j] = _mm256_cvtepi32_ps(
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(t + 96 + 8 * j))));
        for (int r = 0; r < R; ++r) {
            __m256 m = _mm256_mul_ps(mins[0], _mm256_broadcast_ss(x.s[r] + 8 * sb));
            for (int j = 1; j < 8; ++j) m = _mm256_fmadd_ps(mins[j], _mm256_broadcast_ss(x.s[r] + 8 * sb + j), m);
            const __m256 tt = _mm256_mul_ps(_mm256_cvtepi32_ps(isum[g][r]), _mm256_broadcast_ss(x.d[r] + 8 * sb));
            acc[g][r] = _mm256_fmadd_ps(d, tt, acc[g][r]);
            acc[g][r] = _mm256_fnmadd_ps(dmin, m, acc[g][r]);
        }
    }
}

template <bool k_five>
struct packed_k {
    static constexpr dtype k_type = k_five ? dtype::q5_k : dtype::q4_k;
    static constexpr int64_t k_tile = pack_tile_bytes(k_type);
    static constexpr int64_t k_block = 256;
    static constexpr int k_rows = 6;  // 16 rows of 768x2048, 4 -> 6: q4_K 0.156 -> 0.148 ms, q5_K 0.207 -> 0.191
    static constexpr int k_streams = k_five ? 1 : 4;
    // Block sb of G groups `step` bytes apart, interleaved run by run: each broadcast of activation
    // codes serves every group.
    template <int R, int G>
    [[gnu::always_inline]] static void blocks(const uint8_t* tile, int64_t step, const act_rows<R>& x, int64_t sb,
                                              __m256 (*acc)[R]) {
        k_super_blocks<k_five, R, G>(tile, step, x, sb, acc);
    }
};
using packed_q4_k = packed_k<false>;
using packed_q5_k = packed_k<true>;

// For each activation row r, m[r] = sum_s c_s * hs_x[s] over a super-block's 16 sub-blocks, for the 8 weight
// rows at once: pairs[p] holds the rows' int16 coefficients c of sub-blocks 2p and 2p + 1 interleaved (lanes
// 2o, 2o + 1: row o's pair), so one madd meets two half sums. The mins of q2_K and the offsets of q3_K and q6_K.
template <int R>
[[gnu::always_inline]] inline void half_sum_products(const __m256i (&pairs)[8], const act_rows<R>& x, int64_t sb,
                                                     __m256i* m) {
    for (int r = 0; r < R; ++r) {
        m[r] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int p = 0; p < 8; ++p) {
            const __m256i hs = _mm256_set1_epi32(static_cast<int>(
                load_u32(reinterpret_cast<const uint8_t*>(x.hs[r] + 16 * sb + 2 * p))));  // half sums 2p, 2p + 1
            m[r] = _mm256_add_epi32(m[r], _mm256_madd_epi16(pairs[p], hs));
        }
    }
}
// half_sum_products' pair p from signed bytes, 8 rows a sub-block (byte 8s + row of s8).
inline __m256i signed_byte_pair(const uint8_t* s8, int p) {
    const __m128i a = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s8 + 16 * p));
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s8 + 16 * p + 8));
    return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, b));
}

// q6_K, one super-block of 8 rows at a time. Code e of a row is 6 bits, held whole in a byte for
// three of a run's four steps and spread over the top bits of the three for the fourth (pack.h); q in
// [0, 63] meets the activation codes in maddubs (a pair at most 2 * 63 * 127 = 16002, so two runs sum
// in int16), and each 16-element sub-block's pair of runs widens through madd with the rows' signed
// scales. The mins come off that integer sum exactly, 32 * sum_s sc_s * hs_x[s] with hs_x[s] the sum of the
// activation codes of elements 16s..16s+15 (two sub-blocks a madd), and y += d_w * d_x * sum.
template <int R>
[[gnu::always_inline]] inline void q6_k_super_block(const uint8_t* tile, const act_rows<R>& x, int64_t sb,
                                                    __m256* acc) {
    constexpr int64_t k_tile = pack_tile_bytes(dtype::q6_k);
    const __m256i low6 = _mm256_set1_epi8(0x3f), bits01 = _mm256_set1_epi8(0x03), bits23 = _mm256_set1_epi8(0x0c),
                  bits45 = _mm256_set1_epi8(0x30);
    prefetch_tile_ahead<k_tile>(tile);
    __m256i isum[R] = {};
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
#pragma GCC unroll 2
            for (int kk = 0; kk < 2; ++kk) {
                const __m256i sc = row_scales16<true>(
                    _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + 16 + 8 * (8 * h + 2 * j + kk))));
#pragma GCC unroll 2
                for (int pair = 0; pair < 2; ++pair) {
                    __m256i s16[R];
                    for (int r = 0; r < R; ++r) s16[r] = _mm256_setzero_si256();
#pragma GCC unroll 2
                    for (int k = 4 * kk + 2 * pair; k < 4 * kk + 2 * pair + 2; ++k) {
                        const __m256i* run = reinterpret_cast<const __m256i*>(tile + 144 + 96 * (8 * h + k));
                        __m256i q;
                        if (j < 3) {
                            q = _mm256_and_si256(_mm256_loadu_si256(run + j), low6);
                        } else {  // v3's bits from the top of each part (shifts in 16-bit lanes, then masks)
                            const __m256i p0 = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(run), 6), bits01);
                            const __m256i p1 =
                                _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(run + 1), 4), bits23);
                            const __m256i p2 =
                                _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(run + 2), 2), bits45);
                            q = _mm256_or_si256(_mm256_or_si256(p0, p1), p2);
                        }
                        const int64_t e = 256 * sb + 128 * h + 32 * j + 4 * k;
#pragma GCC unroll 8
                        for (int r = 0; r < R; ++r) {
                            s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(q, broadcast4(x.q[r] + e)));
                            if constexpr (R > 1) pin(s16[r]);  // (the 1-row tile ran slower pinned)
                        }
                    }
                    for (int r = 0; r < R; ++r) {
                        isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(s16[r], sc));
                        if constexpr (R > 1) pin(isum[r]);
                    }
                }
            }
        }
    }
    __m256i sc_pairs[8], m[R];
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) sc_pairs[p] = signed_byte_pair(tile + 16, p);
    half_sum_products<R>(sc_pairs, x, sb, m);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile)));
    for (int r = 0; r < R; ++r) {
        const __m256i sum = _mm256_sub_epi32(isum[r], _mm256_slli_epi32(m[r], 5));
        acc[r] =
            _mm256_fmadd_ps(d, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), _mm256_broadcast_ss(x.d[r] + 8 * sb)), acc[r]);
    }
}

struct packed_q6_k {
    static constexpr dtype k_type = dtype::q6_k;
    static constexpr int64_t k_tile = pack_tile_bytes(k_type);
    static constexpr int64_t k_block = 256;
    static constexpr int k_rows = 4;
    static constexpr int k_streams = 1;
    template <int R>
    [[gnu::always_inline]] static void block(const uint8_t* tile, const act_rows<R>& x, int64_t sb, __m256* acc) {
        q6_k_super_block<R>(tile, x, sb, acc);
    }
};

// q2_K and q3_K, one super-block of 8 rows at a time: quarter j of half h is the 8 runs of the half
// shifted by 2j, each run's 2-bit codes (q3_K: with the third bit from its hmask run, codes to 7; a pair
// at most 2 * 7 * 127 = 1778) meeting the activation codes in maddubs; runs 0-3 (sub-block 8h + 2j) and
// 4-7 (8h + 2j + 1) sum in int16 apart and widen through madd with the rows' scales. The mins come off
// in integers as q6_K's do, m = sum_s min_s * hs_x[s], with q2_K's 4-bit mins, or q3_K's offset of 4:
// y += d_x * (d_w * sum - dmin_w * m) (q2_K), y += d_x * d_w * (sum - 4 * sum_s scale_s * hs_x[s]) (q3_K).
template <bool k_q3, int R>
[[gnu::always_inline]] inline void low_k_super_block(const uint8_t* tile, const act_rows<R>& x, int64_t sb,
                                                     __m256* acc) {
    constexpr int64_t k_tile = pack_tile_bytes(k_q3 ? dtype::q3_k : dtype::q2_k);
    constexpr int64_t k_scales = k_q3 ? 16 : 32, k_runs = k_scales + 128, k_hmask = k_runs + 512;
    constexpr bool k_spread = R <= k_stream_rows;  // the prefetch as q4_K's (prefetch_ahead)
    const __m256i mask2 = _mm256_set1_epi8(3), bit2 = _mm256_set1_epi8(4);
    const __m128i mask4 = _mm_set1_epi8(0x0f);
    if constexpr (!k_spread) prefetch_tile_ahead<k_tile>(tile);
    __m256i isum[R] = {};
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {
                // Sub-block 8h + 2j + half's scales (q2_K: the low nibbles).
                const __m128i s8 =
                    _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + k_scales + 8 * (8 * h + 2 * j + half)));
                const __m256i sc = k_q3 ? row_scales16<true>(s8) : row_scales16<false>(_mm_and_si128(s8, mask4));
                __m256i s16[R];
                for (int r = 0; r < R; ++r) s16[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int k = 4 * half; k < 4 * half + 4; ++k) {
                    // Memory order, 21 (q2_K) or 28 (q3_K) bytes apart: each line of the tile 1 KiB ahead 2-3 times.
                    if constexpr (k_spread)
                        if (j % 2 == 0) prefetch_ahead(tile + (16 * h + 8 * (j / 2) + k) * k_tile / 32);
                    const __m256i v =
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + k_runs + 32 * (8 * h + k)));
                    __m256i u = _mm256_and_si256(_mm256_srli_epi16(v, 2 * j), mask2);
                    if constexpr (k_q3) {  // bit 4h + j of the hmask byte, as 4
                        const __m256i hm =
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + k_hmask + 32 * k));
                        const int bit = 4 * h + j;
                        const __m256i at2 = bit >= 2 ? _mm256_srli_epi16(hm, bit - 2) : _mm256_slli_epi16(hm, 2 - bit);
                        u = _mm256_or_si256(u, _mm256_and_si256(at2, bit2));
                    }
                    const int64_t e = 256 * sb + 128 * h + 32 * j + 4 * k;
#pragma GCC unroll 8
                    for (int r = 0; r < R; ++r) {
                        s16[r] = _mm256_add_epi16(s16[r], _mm256_maddubs_epi16(u, broadcast4(x.q[r] + e)));
                        pin(s16[r]);
                    }
                }
                for (int r = 0; r < R; ++r) {
                    isum[r] = _mm256_add_epi32(isum[r], _mm256_madd_epi16(s16[r], sc));
                    pin(isum[r]);
                }
            }
        }
    }
    // The mins (q3_K: the scales, for its offset) of sub-block pairs, as half_sum_products takes them.
    __m256i pairs[8], m[R];
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p) {
        if constexpr (k_q3) {
            pairs[p] = signed_byte_pair(tile + k_scales, p);
        } else {  // the high nibbles
            const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + k_scales + 16 * p));
            const __m128i hi = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(tile + k_scales + 8 + 16 * p));
            pairs[p] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(_mm_and_si128(_mm_srli_epi16(lo, 4), mask4),
                                                              _mm_and_si128(_mm_srli_epi16(hi, 4), mask4)));
        }
    }
    half_sum_products<R>(pairs, x, sb, m);
    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile)));
    const __m256 dmin =
        k_q3 ? _mm256_setzero_ps() : _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + 16)));
    for (int r = 0; r < R; ++r) {
        const __m256 dx = _mm256_broadcast_ss(x.d[r] + 8 * sb);
        if constexpr (k_q3) {
            const __m256i sum = _mm256_sub_epi32(isum[r], _mm256_slli_epi32(m[r], 2));
            acc[r] = _mm256_fmadd_ps(d, _mm256_mul_ps(_mm256_cvtepi32_ps(sum), dx), acc[r]);
        } else {
            acc[r] = _mm256_fmadd_ps(d, _mm256_mul_ps(_mm256_cvtepi32_ps(isum[r]), dx), acc[r]);
            acc[r] = _mm256_fnmadd_ps(dmin, _mm256_mul_ps(_mm256_cvtepi32_ps(m[r]), dx), acc[r]);
        }
    }
}

template <bool k_q3>
struct packed_low_k {
    static constexpr dtype k_type = k_q3 ? dtype::q3_k : dtype::q2_k;
    static constexpr int64_t k_tile = pack_tile_bytes(k_type);
    static constexpr int64_t k_block = 256;
    static constexpr int k_rows = 4;
    static constexpr int k_streams = 4;
    template <int R>
    [[gnu::always_inline]] static void block(const uint8_t* tile, const act_rows<R>& x, int64_t sb, __m256* acc) {
        low_k_super_block<k_q3, R>(tile, x, sb, acc);
    }
};
using packed_q2_k = packed_low_k<false>;
using packed_q3_k = packed_low_k<true>;

using tile_fn = void (*)(const uint8_t*, int64_t, int64_t, const act_q8&, int64_t, float*, int64_t);

// tile_groups<P, R, 1> for R = 1 .. P::k_rows, indexed by R - 1.
template <class P, size_t... I>
constexpr std::array<tile_fn, sizeof...(I)> tile_table(std::index_sequence<I...>) {
    return {&tile_groups<P, static_cast<int>(I) + 1, 1>...};
}
template <class P>
const std::array<tile_fn, P::k_rows>& tile_fns() {
    static constexpr auto fns = tile_table<P>(std::make_index_sequence<P::k_rows>{});
    return fns;
}

// tile_groups<P, R, streams_of(R)> for R = 1 .. k_stream_rows (at most P::k_rows), indexed by R - 1.
template <class P, size_t... I>
constexpr std::array<tile_fn, sizeof...(I)> streamed_table(std::index_sequence<I...>) {
    return {&tile_groups<P, static_cast<int>(I) + 1, streams_of<P>(I + 1)>...};
}
template <class P>
const auto& streamed_fns() {
    static constexpr auto fns =
        streamed_table<P>(std::make_index_sequence<std::min<int64_t>(P::k_rows, k_stream_rows)>{});
    return fns;
}

template <class P>
void matmul_groups(const uint8_t* packed, int64_t o_begin, int64_t o_end, int64_t n_out, const act_q8& a,
                   int64_t n_rows, float* y) {
    const int64_t nb = a.n_in / P::k_block;
    const int64_t group_bytes = nb * P::k_tile;
    const int64_t g_begin = o_begin / 8, g_end = o_end / 8;
    if (streams_of<P>(n_rows) > 1) {  // one tile of rows reads each weight byte once
        const int64_t n_streams = streams_of<P>(n_rows), run = (g_end - g_begin) / n_streams;
        const tile_fn streamed = streamed_fns<P>()[n_rows - 1], single = tile_fns<P>()[n_rows - 1];
        for (int64_t g = g_begin; g < g_begin + run; ++g)
            streamed(packed + g * group_bytes, run, nb, a, 0, y + 8 * g, n_out);
        for (int64_t g = g_begin + n_streams * run; g < g_end; ++g)
            single(packed + g * group_bytes, 1, nb, a, 0, y + 8 * g, n_out);
        return;
    }
    // Groups of weight rows stay in L2 while every tile of activation rows passes over them.
    const int64_t gb = std::max<int64_t>(1, static_cast<int64_t>(k_block_bytes) / group_bytes);
    for (int64_t g0 = g_begin; g0 < g_end; g0 += gb) {
        const int64_t g1 = std::min(g_end, g0 + gb);
        for (int64_t r0 = 0; r0 < n_rows; r0 += P::k_rows) {
            const tile_fn tile = tile_fns<P>()[std::min<int64_t>(P::k_rows, n_rows - r0) - 1];
            for (int64_t g = g0; g < g1; ++g)
                tile(packed + g * group_bytes, 1, nb, a, r0, y + r0 * n_out + 8 * g, n_out);
        }
    }
}

// ---- f32 / f16 / bf16 weights, packed: one FMA chain per output over the elements in order ----
//
// Element e of 8 rows is one 32-byte load (f32) or one 16-byte load and conversion; each activation row's x[e],
// broadcast, meets it in one FMA into that row's 8 outputs. G groups of 8 outputs x R rows per tile: from 3 rows on, 8
// to 12 independent chains hide the FMA latency; 1 and 2 rows wait on memory, not on the chains. Each output's sum is
// the same chain from zero whatever G, R and the split: batch invariant.

template <dtype T>
constexpr int64_t k_float_bytes = T == dtype::f32 ? 4 : 2;

template <dtype T>
inline __m256 load_row8(const uint8_t* p) {
    if constexpr (T == dtype::f32) return _mm256_loadu_ps(reinterpret_cast<const float*>(p));
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if constexpr (T == dtype::bf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

// Weight bytes a float tile's group fetches ahead: at 512, a many-row step waited on DRAM (8 rows of
// 768x2048: 0.27 ms, 0.20 at 2048; 16 rows 0.43 -> 0.35).
constexpr int64_t k_float_prefetch = 2048;
// x: the tile's R activation rows interleaved, element e of row r at x[R * e + r] (one row: as is).
template <dtype T, int G, int R>
void float_tile(const uint8_t* groups, int64_t n_in, const float* x, float* y, int64_t n_out) {
    // One dimension, a loop without branches and every small loop unrolled before GCC scalarizes the
    // arrays: with acc[G][R], a prefetch every 4th element, or (4 groups x 2 rows) without the unroll
    // pragmas, GCC stored the accumulators to the stack on every element. At most 4 weights, 12 sums
    // and a broadcast: 16 registers.
    __m256 acc[G * R];
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[g * R + r] = _mm256_setzero_ps();
    for (int64_t e = 0; e < n_in; ++e) {
        __m256 w[G];
#pragma GCC unroll 16
        for (int g = 0; g < G; ++g) {
            const uint8_t* p = groups + (g * 8 * n_in + 8 * e) * k_float_bytes<T>;
            _mm_prefetch(reinterpret_cast<const char*>(p) + k_float_prefetch, _MM_HINT_T0);
            w[g] = load_row8<T>(p);
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const __m256 xb = _mm256_broadcast_ss(x + R * e + r);
#pragma GCC unroll 16
            for (int g = 0; g < G; ++g) acc[g * R + r] = _mm256_fmadd_ps(w[g], xb, acc[g * R + r]);
        }
    }
#pragma GCC unroll 16
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) _mm256_storeu_ps(y + r * n_out + 8 * g, acc[g * R + r]);
}

using float_tile_fn = void (*)(const uint8_t*, int64_t, const float*, float*, int64_t);

// Activation rows per float tile at most: 6 rows of 2 groups, 12 accumulator chains (8 only just
// cover the FMA latency), 8 loads per 12 FMAs where 12 rows of 1 group take 13. Zen 3, 2 threads,
// medians of 4 interleaved runs, 512 rows of 2048x2048 / 2048x768: 39.3 / 12.5 ms in tiles of 12 rows,
// 32.4 / 10.3 in tiles of 6 (16 rows 1.09 / 0.39 -> 1.04 / 0.39).
constexpr int k_float_rows = 6;

// float_tile<G, R> for R = 1 .. k_float_rows and G up to the widest: 4 groups for 1 or 2 rows, 3 for 3 or 4
// rows, 2 for 5 or 6, so that from 4 rows on 10 to 12 chains hide the FMA latency. 4 rows of 2 groups, 8
// chains, waited on it (F16, 2 threads, 3 interleaved runs, 8192x2048 / 2048x8192: 7 rows 1.98-2.07 /
// 1.98-2.17 ms -> 1.75-1.92 / 1.66-1.67, 8 rows 2.04-2.13 / 2.04-2.07 -> 1.88-2.07 / 1.84-1.91). One row
// reads 4 weight streams, not 8: a 1-row step of llama-1b F16 cost more than a 2-row one with 8 (DRAM-cold
// bench_kernels, medians of 3 interleaved runs, 2048x2048 / 8192x2048 / 2048x8192: 0.315 / 1.31 / 1.24 ms
// with 8 groups, 0.245 / 1.24 / 1.16 with 4).
constexpr int float_groups(int64_t r) {
    return r <= 2 ? 4 : r <= 4 ? 3 : r <= 6 ? 2 : 1;
}
// The tiles of G groups, by rows: entry R - 1 has min(G, float_groups(R)) groups.
template <dtype T, int G, size_t... I>
constexpr std::array<float_tile_fn, sizeof...(I)> float_tiles(std::index_sequence<I...>) {
    return {&float_tile<T, std::min(G, float_groups(I + 1)), static_cast<int>(I) + 1>...};
}
// By group count, then rows: a thread's groups run in the widest tiles, and what is left in one tile
// as wide as that (a 768-output matmul's chunk of 12 groups of one row ran 8 groups wide and then 4
// single groups, each one FMA chain waiting on its latency).
template <dtype T>
constexpr std::array<std::array<float_tile_fn, k_float_rows>, 4> float_tile_table() {
    using rows = std::make_index_sequence<k_float_rows>;
    return {float_tiles<T, 1>(rows{}), float_tiles<T, 2>(rows{}), float_tiles<T, 3>(rows{}), float_tiles<T, 4>(rows{})};
}

// Rows split into tiles of near-equal size (13 rows: 5, 5 and 3, not 6, 6 and 1): the rows per tile.
int64_t float_tile_rows(int64_t n_rows) {
    const int64_t n_tiles = (n_rows + k_float_rows - 1) / k_float_rows;
    return (n_rows + n_tiles - 1) / n_tiles;
}

// Every tile of activation rows over groups [0, n_groups) of one block (block: its first group, y:
// the block's first output of row 0).
template <dtype T>
void block_row_tiles(const uint8_t* block, int64_t n_groups, int64_t n_in, const float* x, int64_t n_rows, float* y,
                     int64_t n_out) {
    static constexpr auto tiles = float_tile_table<T>();
    const int64_t tile_rows = float_tile_rows(n_rows);
    const int64_t group_bytes = 8 * n_in * k_float_bytes<T>;
    for (int64_t r0 = 0; r0 < n_rows; r0 += tile_rows) {
        const int64_t nr = std::min(tile_rows, n_rows - r0);
        // The widest tiles, then what is left in one tile.
        for (int64_t g = 0, width = 0; g < n_groups; g += width) {
            width = std::min<int64_t>(float_groups(nr), n_groups - g);
            tiles[static_cast<size_t>(width - 1)][static_cast<size_t>(nr - 1)](
                block + g * group_bytes, n_in, x + r0 * n_in, y + r0 * n_out + 8 * g, n_out);
        }
    }
}

// From this many rows, f16 / bf16 weights are widened to f32 one block of groups at a time, and every
// row tile reads the f32 copy: in a tile the conversions shared the FMA ports (2 per 12 FMAs), and a
// block passes under n_rows / 6 tiles, so converting it once is cheap beside that. The values, and
// every sum, are the same. 2 threads, avx2, 5 interleaved pairs of `tandem bench -p 512`, medians:
// llama-110m F16 507 -> 557 tok/s, llama-1b F16 53.7 -> 56.8. Below 256 rows the copy (twice the
// bytes for the tiles to read) cost about what it saved, and at 16 rows more (2048x768: 0.37-0.48 ->
// 0.49-0.60 ms).
constexpr int64_t k_widen_rows = 256;

// x: each tile's rows interleaved (x[r0 * n_in + R * e + r] for the tile from row r0), as float_tile
// reads them.
template <dtype T>
void matmul_float_groups(const uint8_t* packed, int64_t n_in, int64_t o_begin, int64_t o_end, int64_t n_out,
                         const float* x, int64_t n_rows, float* y) {
    const int64_t group_bytes = 8 * n_in * k_float_bytes<T>;
    const bool widen = T != dtype::f32 && n_rows >= k_widen_rows;
    // Groups of weight rows stay in L2 while every tile of activation rows passes over them: a whole
    // number of the first tiles' width, and unless widened at least the whole tiles that fit in 8 groups.
    const int64_t width = float_groups(float_tile_rows(n_rows));
    const int64_t fit = static_cast<int64_t>(k_block_bytes) / (widen ? 8 * n_in * 4 : group_bytes);  // groups
    const int64_t gb = std::max<int64_t>(widen ? width : 8 / width * width, fit / width * width);
    thread_local std::vector<float> wide;  // one block widened (grows to the largest, then reused)
    for (int64_t g0 = o_begin / 8; g0 < o_end / 8; g0 += gb) {
        const int64_t n_groups = std::min(o_end / 8, g0 + gb) - g0;
        const uint8_t* block = packed + g0 * group_bytes;
        if (!widen) {
            block_row_tiles<T>(block, n_groups, n_in, x, n_rows, y + 8 * g0, n_out);
            continue;
        }
        const int64_t n = n_groups * 8 * n_in;
        if (wide.size() < static_cast<size_t>(n)) wide.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; i += 8)
            _mm256_storeu_ps(wide.data() + i, load_row8<T>(block + i * k_float_bytes<T>));
        block_row_tiles<dtype::f32>(reinterpret_cast<const uint8_t*>(wide.data()), n_groups, n_in, x, n_rows,
                                    y + 8 * g0, n_out);
    }
}

// The packed kernels, one entry per type: a new packed type is its layout in pack.h (pack_tile_bytes,
// pack.cpp's packers) and one line here.
template <class F>
struct packed_kernel {
    dtype type;
    F run;
};
using int8_run = void (*)(const uint8_t*, int64_t, int64_t, int64_t, const act_q8&, int64_t, float*);
using float_run = void (*)(const uint8_t*, int64_t, int64_t, int64_t, int64_t, const float*, int64_t, float*);
template <class... P>
constexpr std::array<packed_kernel<int8_run>, sizeof...(P)> int8_kernels() {
    return {packed_kernel<int8_run>{P::k_type, &matmul_groups<P>}...};
}
constexpr auto k_packed_int8 =
    int8_kernels<packed_q8_0, packed_q4_0, packed_q2_k, packed_q3_k, packed_q4_k, packed_q5_k, packed_q6_k>();
constexpr std::array<packed_kernel<float_run>, 3> k_packed_float = {{{dtype::f32, &matmul_float_groups<dtype::f32>},
                                                                     {dtype::f16, &matmul_float_groups<dtype::f16>},
                                                                     {dtype::bf16, &matmul_float_groups<dtype::bf16>}}};

static_assert(std::ranges::all_of(k_packed_int8, [](const auto& k) { return pack_supported(k.type); }) &&
                  std::ranges::all_of(k_packed_float, [](const auto& k) { return pack_supported(k.type); }),
              "each kernel reads a layout of pack.h");

template <class F, size_t N>
const packed_kernel<F>* find_packed(const std::array<packed_kernel<F>, N>& kernels, dtype wt) {
    for (const auto& k : kernels)
        if (k.type == wt) return &k;
    return nullptr;
}

}  // namespace

bool avx2_has_packed(dtype wt) {
    return find_packed(k_packed_int8, wt) || find_packed(k_packed_float, wt);
}

// Each tile's rows interleaved, so a tile's broadcasts read one stream: rows n_in apart map to the
// same L1 set when n_in * 4 is a multiple of 4 KiB, and with the weights' lines they evicted each other
// (Zen 3, 32 KiB 8-way L1; 512 rows of 2048x2048 F16 in 12-row tiles: 110-150 ms -> 42-79).
void avx2_arrange_packed_float_act(const float* x, int64_t n_rows, int64_t n_in, float* out, int64_t e_begin,
                                   int64_t e_end) {
    const int64_t tile_rows = float_tile_rows(n_rows);
    for (int64_t r0 = 0; r0 < n_rows; r0 += tile_rows) {
        const int64_t nr = std::min(tile_rows, n_rows - r0);
        float* dst = out + r0 * n_in;
        for (int64_t r = 0; r < nr; ++r)
            for (int64_t e = e_begin; e < e_end; ++e) dst[nr * e + r] = x[(r0 + r) * n_in + e];
    }
}

void avx2_matmul_packed_float(dtype wt, const uint8_t* packed, int64_t n_in, int64_t o_begin, int64_t o_end,
                              int64_t n_out, const float* x, int64_t n_rows, float* y) {
    find_packed(k_packed_float, wt)->run(packed, n_in, o_begin, o_end, n_out, x, n_rows, y);
}

void avx2_matmul_packed(dtype wt, const uint8_t* packed, int64_t o_begin, int64_t o_end, int64_t n_out, const act_q8& a,
                        int64_t n_rows, float* y) {
    find_packed(k_packed_int8, wt)->run(packed, o_begin, o_end, n_out, a, n_rows, y);
}

}  // namespace tandem::cpu
