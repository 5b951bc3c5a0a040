// AVX-512 (F/BW/VL/DQ/VNNI) kernels. Int8 dot products use vpdpbusd. For q8_0, q4_0 and q6_K the
// activations are the unsigned operand (code + 128) and the weights signed; the +128 bias is removed
// exactly, lane by lane, by starting each accumulation at -(128 * sum of the weights in the lane),
// computed once per weight vector and shared by all activation rows. q4_K codes are unsigned already:
// they meet signed activation codes and need no bias.
// A 64-element "step" fills one zmm: int32 lane i holds elements 4i..4i+3, so lanes 0-7 are the
// first 32 elements and lanes 8-15 the second; scales are expanded to lanes to match.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/fp16.h"

namespace tandem::cpu {
namespace {

constexpr int k_max_rows = 8;       // float kernels: activation rows per pass over a weight row
constexpr int64_t k_tile_rows = 4;  // int8 kernels: activation rows per tile (2 weight rows x 4 = 8 accumulators)

inline __m512 scales2(float a, float b) {
    return _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(a), _mm512_set1_ps(b));
}

// ---- activation quantization ----

// Position of sub-block j (of 8) of a super-block in the paired step order of decode_q4_k_paired.
inline int64_t q4k_act_pos(int64_t j) {
    return (j & 4) | ((j & 1) << 1) | ((j >> 1) & 1);
}

int64_t act_block(dtype) {
    return 32;
}

void quantize_act(const float* x, const act_q8& a, int64_t r) {
    uint8_t* q = a.q + r * a.n_pad;
    float* d = a.d + r * a.d_stride;
    float* s = a.s + r * a.s_stride;
    const int64_t nb = a.n_in / 32, nb_pad = a.n_pad / 32;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    // q4_K meets signed codes, the other types code + 128.
    const bool is_signed = a.wt == dtype::q4_k;
    const __m256i flip = _mm256_set1_epi8(is_signed ? 0 : -128);
    for (int64_t b = 0; b < nb; ++b) {
        const __m512 v0 = _mm512_loadu_ps(x + 32 * b), v1 = _mm512_loadu_ps(x + 32 * b + 16);
        const __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
        const float amax = _mm512_reduce_max_ps(m);
        const float scale = amax / 127.0f;
        const __m512 inv = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, inv));  // round to nearest even
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, inv));
        const __m128i c0 = _mm512_cvtsepi32_epi8(i0), c1 = _mm512_cvtsepi32_epi8(i1);
        const __m256i codes = _mm256_set_m128i(c1, c0);
        // q4_K rows are read in paired step order (decode_q4_k_paired); the sums s stay in block order.
        const int64_t p = a.wt == dtype::q4_k ? (b & ~int64_t{7}) + q4k_act_pos(b & 7) : b;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * p), _mm256_xor_si256(codes, flip));
        _mm256_storeu_ps(d + 8 * p, _mm256_set1_ps(scale));
        s[b] = scale * static_cast<float>(_mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1)));
    }
    for (int64_t b = nb; b < nb_pad; ++b) std::memset(q + 32 * b, is_signed ? 0 : 0x80, 32);
    std::fill(d + 8 * nb, d + a.d_stride, 0.0f);
    std::fill(s + nb, s + a.s_stride, 0.0f);
}

// ---- weight decoders: call f(step, w, ws) for each 64-element step of a row ----

template <class F>
inline void decode_q8_0(const block_q8_0* b, int64_t nb, F&& f) {
    for (int64_t k = 0; k < nb; k += 2) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs));
        if (k + 1 < nb) {
            const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k + 1].qs));
            f(k / 2, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), scales2(h2f(b[k].d), h2f(b[k + 1].d)));
        } else {
            f(k / 2, _mm512_zextsi256_si512(lo), scales2(h2f(b[k].d), 0.0f));
        }
    }
}

template <class F>
inline void decode_q4_0(const block_q4_0* b, int64_t nb, F&& f) {
    const __m512i idx = _mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0);  // [A, A, B, B] in 128-bit lanes
    const __m512i mask4 = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    for (int64_t k = 0; k < nb; k += 2) {
        const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].qs));
        const bool two = k + 1 < nb;
        const __m128i qb = two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k + 1].qs)) : _mm_set1_epi8(-120);
        const __m512i z = _mm512_permutexvar_epi64(idx, _mm512_castsi256_si512(_mm256_set_m128i(qb, qa)));
        const __m512i n = _mm512_mask_blend_epi64(0xcc, z, _mm512_srli_epi16(z, 4));
        const __m512i w = _mm512_sub_epi8(_mm512_and_si512(n, mask4), eight);  // 0x88 padding decodes to 0
        f(k / 2, w, scales2(h2f(b[k].d), two ? h2f(b[k + 1].d) : 0.0f));
    }
}

// q4_K: step c of a super-block = sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles) of qs[32c..].
// fm(sb, mins) receives dmin * min for the 8 sub-blocks.
template <class F, class FM>
inline void decode_q4_k(const block_q4_k* b, int64_t nb, F&& f, FM&& fm) {
    const __m512i mask4 = _mm512_set1_epi8(0x0f);
    for (int64_t i = 0; i < nb; ++i) {
        uint64_t sc64, mn64;
        unpack_k_scales64(b[i].scales, sc64, mn64);
        const __m256 dsc =
            _mm256_mul_ps(_mm256_set1_ps(h2f(b[i].d)),
                          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(sc64)))));
        fm(i, _mm256_mul_ps(_mm256_set1_ps(h2f(b[i].dmin)),
                            _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(mn64))))));
        const __m512 dsc512 = _mm512_castps256_ps512(dsc);
        for (int c = 0; c < 4; ++c) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs + 32 * c));
            const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), q, 1);
            const __m512i w = _mm512_and_si512(_mm512_mask_blend_epi64(0xf0, z, _mm512_srli_epi16(z, 4)), mask4);
            const __m512i sidx =
                _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(2 * c), _mm512_set1_epi32(2 * c + 1));
            f(4 * i + c, w, _mm512_permutexvar_ps(sidx, dsc512));
        }
    }
}

// q4_K for the int8 kernel, in "paired" step order: a 64-byte load of qs gives two steps, its low
// nibbles (sub-blocks 4h, 4h + 2) and its high nibbles (4h + 1, 4h + 3), so step 4i + c holds
// sub-blocks (0, 2), (1, 3), (4, 6), (5, 7) for c = 0..3; quantize_act stores q4_K activation
// blocks in the same order (q4k_act_pos).
// fm(sb, mins) receives dmin * min for the 8 sub-blocks in their natural order.
template <class F, class FM>
inline void decode_q4_k_paired(const block_q4_k* b, int64_t nb, F&& f, FM&& fm) {
    const __m512i mask4 = _mm512_set1_epi8(0x0f);
    // Lane scale index of each step: sub-blocks (0, 2), (1, 3), (4, 6), (5, 7).
    const __m512i half = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i idx0 = _mm512_slli_epi32(half, 1);
    for (int64_t i = 0; i < nb; ++i) {
        uint64_t sc64, mn64;
        unpack_k_scales64(b[i].scales, sc64, mn64);
        const __m256 dsc =
            _mm256_mul_ps(_mm256_set1_ps(h2f(b[i].d)),
                          _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(sc64)))));
        fm(i, _mm256_mul_ps(_mm256_set1_ps(h2f(b[i].dmin)),
                            _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(mn64))))));
        const __m512 dsc512 = _mm512_castps256_ps512(dsc);
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m512i q = _mm512_loadu_si512(b[i].qs + 64 * h);
            const __m512i lo_idx = _mm512_add_epi32(idx0, _mm512_set1_epi32(4 * h));
            f(4 * i + 2 * h, _mm512_and_si512(q, mask4), _mm512_permutexvar_ps(lo_idx, dsc512));
            f(4 * i + 2 * h + 1, _mm512_and_si512(_mm512_srli_epi16(q, 4), mask4),
              _mm512_permutexvar_ps(_mm512_add_epi32(lo_idx, _mm512_set1_epi32(1)), dsc512));
        }
    }
}

// q6_K: half h, step s covers elements 64s..64s+63 of the half: low (s = 0) or high (s = 1) nibbles
// of ql[64h..64h+63], 2 high bits from qh[32h + e % 32] at bit 2 * (e / 32); scales per 16 elements.
template <class F>
inline void decode_q6_k(const block_q6_k* b, int64_t nb, F&& f) {
    const __m512i mask4 = _mm512_set1_epi8(0x0f), mask30 = _mm512_set1_epi8(0x30), k32 = _mm512_set1_epi8(32);
    // Word shift counts: lower 256 bits vs upper 256 bits (elements e < 32 vs e >= 32 of the step).
    const __m512i shl0 = _mm512_mask_blend_epi16(0xffff0000, _mm512_set1_epi16(4), _mm512_set1_epi16(2));
    const __m512i shr1 = _mm512_mask_blend_epi16(0xffff0000, _mm512_set1_epi16(0), _mm512_set1_epi16(2));
    // Lane l of a step takes the scale of its 16-element quarter l / 4.
    const __m512i quarter =
        _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2);
    for (int64_t i = 0; i < nb; ++i) {
        const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[i].scales));
        // d * scale of the 16 sub-blocks, moved to the lanes of each step by one permute.
        const __m512 dsc = _mm512_mul_ps(_mm512_set1_ps(h2f(b[i].d)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)));
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
            const __m512i l = _mm512_loadu_si512(b[i].ql + 64 * h);
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qh + 32 * h));
            const __m512i hz = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
#pragma GCC unroll 2
            for (int s = 0; s < 2; ++s) {
                const __m512i lo =
                    s == 0 ? _mm512_and_si512(l, mask4) : _mm512_and_si512(_mm512_srli_epi16(l, 4), mask4);
                const __m512i hb = s == 0 ? _mm512_and_si512(_mm512_sllv_epi16(hz, shl0), mask30)
                                          : _mm512_and_si512(_mm512_srlv_epi16(hz, shr1), mask30);
                const __m512i w = _mm512_sub_epi8(_mm512_or_si512(lo, hb), k32);
                const int base = 8 * h + 4 * s;
                const __m512 ws = _mm512_permutexvar_ps(_mm512_add_epi32(quarter, _mm512_set1_epi32(base)), dsc);
                f(4 * i + 2 * h + s, w, ws);
            }
        }
    }
}

// ---- the multi-row int8 kernel ----

// How a weight type's codes meet the activation codes in vpdpbusd (unsigned x signed bytes):
// biased: signed weights, activations code + 128, each dot starts at -128 * (lane sum of the weights);
// plain: unsigned weights without offset (q4_K), signed activations, dots start at 0.
enum class act_mode { biased, plain };

// Group decoders. D::group(row, g, nb, f, fm) calls f(k, w, ws) for each 64-element step k of group g
// of a weight row of nb 32-element blocks (the *_0 types: one step of two blocks; K-quants: the four
// steps of super-block g) and, for q4_K, fm(g, dmin * min of its 8 sub-blocks).
struct group_q8_0 {
    static constexpr act_mode k_mode = act_mode::biased;
    static constexpr int64_t k_group_bytes = 2 * sizeof(block_q8_0);
    static int64_t n_groups(int64_t nb) { return (nb + 1) / 2; }
    template <class F, class FM>
    static void group(const uint8_t* row, int64_t k, int64_t nb, F&& f, FM&&) {
        const auto* b = reinterpret_cast<const block_q8_0*>(row) + 2 * k;
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[0].qs));
        if (2 * k + 1 < nb) {
            const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[1].qs));
            f(k, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), scales2(h2f(b[0].d), h2f(b[1].d)));
        } else {
            f(k, _mm512_zextsi256_si512(lo), scales2(h2f(b[0].d), 0.0f));
        }
    }
};
struct group_q4_0 {
    static constexpr act_mode k_mode = act_mode::biased;
    static constexpr int64_t k_group_bytes = 2 * sizeof(block_q4_0);
    static int64_t n_groups(int64_t nb) { return (nb + 1) / 2; }
    template <class F, class FM>
    static void group(const uint8_t* row, int64_t k, int64_t nb, F&& f, FM&&) {
        const auto* b = reinterpret_cast<const block_q4_0*>(row) + 2 * k;
        const __m512i idx = _mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0);
        const bool two = 2 * k + 1 < nb;
        const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[0].qs));
        const __m128i qb = two ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[1].qs)) : _mm_set1_epi8(-120);
        const __m512i z = _mm512_permutexvar_epi64(idx, _mm512_castsi256_si512(_mm256_set_m128i(qb, qa)));
        const __m512i n = _mm512_mask_blend_epi64(0xcc, z, _mm512_srli_epi16(z, 4));
        f(k, _mm512_sub_epi8(_mm512_and_si512(n, _mm512_set1_epi8(0x0f)), _mm512_set1_epi8(8)),
          scales2(h2f(b[0].d), two ? h2f(b[1].d) : 0.0f));
    }
};
struct group_q4_k {
    static constexpr act_mode k_mode = act_mode::plain;
    static constexpr int64_t k_group_bytes = sizeof(block_q4_k);
    static int64_t n_groups(int64_t nb) { return nb / 8; }
    template <class F, class FM>
    static void group(const uint8_t* row, int64_t g, int64_t, F&& f, FM&& fm) {
        decode_q4_k_paired(
            reinterpret_cast<const block_q4_k*>(row) + g, 1,
            [&](int64_t k, __m512i w, __m512 ws) { f(4 * g + k, w, ws); }, [&](int64_t, __m256 m) { fm(g, m); });
    }
};
struct group_q6_k {
    static constexpr act_mode k_mode = act_mode::biased;
    static constexpr int64_t k_group_bytes = sizeof(block_q6_k);
    static int64_t n_groups(int64_t nb) { return nb / 8; }
    template <class F, class FM>
    static void group(const uint8_t* row, int64_t g, int64_t, F&& f, FM&&) {
        decode_q6_k(reinterpret_cast<const block_q6_k*>(row) + g, 1,
                    [&](int64_t k, __m512i w, __m512 ws) { f(4 * g + k, w, ws); });
    }
};
// K-quant rows already decoded by decode_buf: per step 64 codes then 16 lane scales (128 bytes), then,
// for q4_K, dmin * min of the 8 sub-blocks of each super-block (8 floats per super-block). Yields
// exactly what group_q4_k / group_q6_k yield, so both paths give bitwise the same outputs.
template <bool Q4K>
struct group_buf {
    static constexpr act_mode k_mode = Q4K ? act_mode::plain : act_mode::biased;
    static constexpr int64_t k_group_bytes = 4 * 128;
    static int64_t n_groups(int64_t nb) { return nb / 8; }
    template <class F, class FM>
    static void group(const uint8_t* row, int64_t g, int64_t nb, F&& f, FM&& fm) {
        for (int64_t k = 4 * g; k < 4 * g + 4; ++k) {
            f(k, _mm512_loadu_si512(row + 128 * k),
              _mm512_loadu_ps(reinterpret_cast<const float*>(row + 128 * k + 64)));
        }
        if constexpr (Q4K) fm(g, _mm256_loadu_ps(reinterpret_cast<const float*>(row + 64 * nb) + 8 * g));
    }
};

// W weight rows x R activation rows, one accumulator each. Per output the arithmetic is the same
// whatever W, R and the tile's position are (same dot start, dpbusd, scale product and fma per step,
// mins in super-block order in their own accumulator, same final reduction): the basis of batch invariance.
template <class D, int W, int R>
void tile_q8(const uint8_t* w, size_t row_bytes, int64_t nb, const act_q8& a, int64_t r0, float* y, int64_t n_out) {
    __m512 acc[W][R];
    __m256 accm[W][R];
    const uint8_t* xq[R];
    const float* xd[R];
    const float* xsum[R];
    for (int r = 0; r < R; ++r) {
        xq[r] = a.q + (r0 + r) * a.n_pad;
        xd[r] = a.d + (r0 + r) * a.d_stride;
        xsum[r] = a.s + (r0 + r) * a.s_stride;
        for (int i = 0; i < W; ++i) {
            acc[i][r] = _mm512_setzero_ps();
            accm[i][r] = _mm256_setzero_ps();
        }
    }
    const __m512i bias = _mm512_set1_epi8(-128);
    const int64_t n_groups = D::n_groups(nb);
    for (int64_t g = 0; g < n_groups; ++g) {
#pragma GCC unroll 2
        for (int i = 0; i < W; ++i) {
            const uint8_t* wr = w + i * row_bytes;
            for (int64_t off = 0; off < D::k_group_bytes; off += 64) {  // every line of the group, 512 bytes ahead
                _mm_prefetch(reinterpret_cast<const char*>(wr + g * D::k_group_bytes + off) + 512, _MM_HINT_T0);
            }
            auto step = [&](int64_t k, __m512i wv, __m512 ws) {
                __m512i start = _mm512_setzero_si512();
                if constexpr (D::k_mode == act_mode::biased) {
                    start = _mm512_sub_epi32(start, _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, wv));
                }
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    const __m512i x = _mm512_loadu_si512(xq[r] + 64 * k);
                    const __m512 xs = _mm512_loadu_ps(xd[r] + 16 * k);
                    __m512i dot;
                    if constexpr (D::k_mode == act_mode::biased)
                        dot = _mm512_dpbusd_epi32(start, x, wv);
                    else
                        dot = _mm512_dpbusd_epi32(start, wv, x);
                    acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(ws, xs), acc[i][r]);
                }
            };
            auto mins = [&](int64_t sb, __m256 m) {
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r)
                    accm[i][r] = _mm256_fmadd_ps(m, _mm256_loadu_ps(xsum[r] + 8 * sb), accm[i][r]);
            };
            D::group(wr, g, nb, step, mins);
        }
    }
    for (int i = 0; i < W; ++i) {
        for (int r = 0; r < R; ++r) y[r * n_out + i] = _mm512_reduce_add_ps(acc[i][r]) - hsum(accm[i][r]);
    }
}

template <class D, int W>
void tile_rows(const uint8_t* w, size_t row_bytes, int64_t nb, const act_q8& a, int64_t r0, int64_t n_r, float* y,
               int64_t n_out) {
    switch (n_r) {
        case 1:
            tile_q8<D, W, 1>(w, row_bytes, nb, a, r0, y, n_out);
            break;
        case 2:
            tile_q8<D, W, 2>(w, row_bytes, nb, a, r0, y, n_out);
            break;
        case 3:
            tile_q8<D, W, 3>(w, row_bytes, nb, a, r0, y, n_out);
            break;
        default:
            tile_q8<D, W, 4>(w, row_bytes, nb, a, r0, y, n_out);
            break;
    }
}

// Bytes of one q4_K / q6_K row decoded for group_buf.
inline size_t decoded_row_bytes(int64_t n_in) {
    return static_cast<size_t>(n_in / 64 * 128 + n_in / 256 * 32);
}

void decode_buf(dtype wt, const uint8_t* w, int64_t n_in, uint8_t* out) {
    auto f = [&](int64_t k, __m512i wv, __m512 ws) {
        _mm512_storeu_si512(out + 128 * k, wv);
        _mm512_storeu_ps(reinterpret_cast<float*>(out + 128 * k + 64), ws);
    };
    auto* mins = reinterpret_cast<float*>(out + n_in / 64 * 128);
    if (wt == dtype::q4_k) {
        decode_q4_k_paired(reinterpret_cast<const block_q4_k*>(w), n_in / 256, f,
                           [&](int64_t sb, __m256 m) { _mm256_storeu_ps(mins + 8 * sb, m); });
    } else {
        decode_q6_k(reinterpret_cast<const block_q6_k*>(w), n_in / 256, f);
    }
}

// Activation rows [0, n_rows) against weight rows [o0, o1) (row o0 at w, rows row_bytes apart), a
// tile of activation rows at a time, two weight rows at a time when the tile has several rows.
template <class D>
void tiles(const uint8_t* w, size_t row_bytes, int64_t o0, int64_t o1, int64_t nb, const act_q8& a, int64_t n_rows,
           float* y, int64_t n_out) {
    for (int64_t r0 = 0; r0 < n_rows; r0 += k_tile_rows) {
        const int64_t n_r = std::min(k_tile_rows, n_rows - r0);
        // One or two activation rows: a weight row at a time measured faster (fewer live registers).
        const int64_t o_step = n_r > 2 ? 2 : 1;
        for (int64_t o = o0; o < o1; o += o_step) {
            const uint8_t* wr = w + (o - o0) * row_bytes;
            float* yo = y + r0 * n_out + o;
            if (o_step == 2 && o + 1 < o1)
                tile_rows<D, 2>(wr, row_bytes, nb, a, r0, n_r, yo, n_out);
            else
                tile_rows<D, 1>(wr, row_bytes, nb, a, r0, n_r, yo, n_out);
        }
    }
}

bool has_q8(dtype wt) {
    return wt == dtype::q8_0 || wt == dtype::q4_0 || wt == dtype::q4_k || wt == dtype::q6_k;
}

// Weight rows in blocks that stay in L2 while every activation tile passes over them.
constexpr int64_t k_block_bytes = 256 << 10;
// Up to this many activation rows, K-quant weights are decoded inside the tile (once per tile of
// activation rows); above, a block of rows is decoded once to a buffer that every tile reads.
constexpr int64_t k_fused_rows = 8;

template <class D>
void blocked(const uint8_t* w, size_t row_bytes, int64_t o_begin, int64_t o_end, int64_t n_out, const act_q8& a,
             int64_t n_rows, float* y) {
    const int64_t ob = std::max<int64_t>(2, static_cast<int64_t>(k_block_bytes / row_bytes) / 2 * 2);
    for (int64_t o0 = o_begin; o0 < o_end; o0 += ob) {
        const int64_t o1 = std::min(o_end, o0 + ob);
        tiles<D>(w + o0 * row_bytes, row_bytes, o0, o1, a.n_in / 32, a, n_rows, y, n_out);
    }
}

void matmul_q8(dtype wt, const uint8_t* w, size_t row_bytes, int64_t o_begin, int64_t o_end, int64_t n_out,
               const act_q8& a, int64_t n_rows, float* y) {
    if (wt == dtype::q8_0) return blocked<group_q8_0>(w, row_bytes, o_begin, o_end, n_out, a, n_rows, y);
    if (wt == dtype::q4_0) return blocked<group_q4_0>(w, row_bytes, o_begin, o_end, n_out, a, n_rows, y);
    if (n_rows <= k_fused_rows) {
        if (wt == dtype::q4_k) return blocked<group_q4_k>(w, row_bytes, o_begin, o_end, n_out, a, n_rows, y);
        return blocked<group_q6_k>(w, row_bytes, o_begin, o_end, n_out, a, n_rows, y);
    }
    // Many rows: decode a block of weight rows once into the step layout, then run every tile over it.
    const size_t dec_bytes = decoded_row_bytes(a.n_in);
    const int64_t ob = std::max<int64_t>(2, static_cast<int64_t>(k_block_bytes / dec_bytes) / 2 * 2);
    thread_local std::vector<uint8_t> buf;
    if (buf.size() < dec_bytes * static_cast<size_t>(ob)) buf.resize(dec_bytes * static_cast<size_t>(ob));
    const int64_t nb = a.n_in / 32;
    for (int64_t o0 = o_begin; o0 < o_end; o0 += ob) {
        const int64_t o1 = std::min(o_end, o0 + ob);
        for (int64_t o = o0; o < o1; ++o) decode_buf(wt, w + o * row_bytes, a.n_in, buf.data() + (o - o0) * dec_bytes);
        if (wt == dtype::q4_k)
            tiles<group_buf<true>>(buf.data(), dec_bytes, o0, o1, nb, a, n_rows, y, n_out);
        else
            tiles<group_buf<false>>(buf.data(), dec_bytes, o0, o1, nb, a, n_rows, y, n_out);
    }
}

// ---- float weights ----

bool has_float(dtype wt) {
    return wt == dtype::f32 || wt == dtype::f16;
}

inline __m512 load_w(dtype wt, const uint8_t* w, int64_t i) {
    if (wt == dtype::f16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 2 * i)));
    return _mm512_loadu_ps(reinterpret_cast<const float*>(w) + i);
}
inline __m512 load_w_tail(dtype wt, const uint8_t* w, int64_t i, __mmask16 m) {
    if (wt == dtype::f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w + 2 * i));
    return _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(w) + i);
}

template <int R>
void float_row(dtype wt, const uint8_t* w, int64_t n_in, const float* x, float* y, int64_t n_out) {
    __m512 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n_in; i += 16) {
        const __m512 wv = load_w(wt, w, i);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(x + r * n_in + i), acc[r]);
    }
    if (i < n_in) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n_in - i)) - 1);
        const __m512 wv = load_w_tail(wt, w, i, m);
        for (int r = 0; r < R; ++r) acc[r] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, x + r * n_in + i), acc[r]);
    }
    for (int r = 0; r < R; ++r) y[r * n_out] = _mm512_reduce_add_ps(acc[r]);
}

void matmul_float(dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end,
                  int64_t n_out, const float* x, int64_t n_rows, float* y) {
    // Blocks of weight rows stay in L2 while every tile of activation rows passes over them.
    const int64_t ob = std::max<int64_t>(1, static_cast<int64_t>(k_block_bytes / std::max<size_t>(row_bytes, 1)));
    for (int64_t o0 = o_begin; o0 < o_end; o0 += ob) {
        for (int64_t r0 = 0; r0 < n_rows; r0 += k_max_rows) {
            const float* xr = x + r0 * n_in;
            for (int64_t o = o0; o < std::min(o_end, o0 + ob); ++o) {
                const uint8_t* wr = w + o * row_bytes;
                float* yo = y + r0 * n_out + o;
                switch (std::min<int64_t>(k_max_rows, n_rows - r0)) {
                    case 1:
                        float_row<1>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 2:
                        float_row<2>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 3:
                        float_row<3>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 4:
                        float_row<4>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 5:
                        float_row<5>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 6:
                        float_row<6>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    case 7:
                        float_row<7>(wt, wr, n_in, xr, yo, n_out);
                        break;
                    default:
                        float_row<8>(wt, wr, n_in, xr, yo, n_out);
                        break;
                }
            }
        }
    }
}

// ---- dequantize and single-row float dots, from the same decoders ----

// Writes the n_valid (<= 64) elements of one decoded step; quarter g (16 elements) has scale ws[4g].
inline void store_step(float* y, __m512i w, __m512 ws, __m256 mins, int64_t n_valid) {
    __m128i q[4] = {_mm512_extracti32x4_epi32(w, 0), _mm512_extracti32x4_epi32(w, 1), _mm512_extracti32x4_epi32(w, 2),
                    _mm512_extracti32x4_epi32(w, 3)};
    const __m512 m512 = _mm512_castps256_ps512(mins);
    for (int g = 0; g < 4 && 16 * g < n_valid; ++g) {
        const __m512 s = _mm512_permutexvar_ps(_mm512_set1_epi32(4 * g), ws);
        const __m512 m = _mm512_permutexvar_ps(_mm512_set1_epi32(g / 2), m512);
        _mm512_storeu_ps(y + 16 * g, _mm512_fmsub_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q[g])), s, m));
    }
}

bool dequantize(dtype t, const void* src, float* dst, int64_t n) {
    const auto* p = static_cast<const uint8_t*>(src);
    const __m256 no_mins = _mm256_setzero_ps();
    auto f = [&](int64_t k, __m512i w, __m512 ws) { store_step(dst + 64 * k, w, ws, no_mins, n - 64 * k); };
    switch (t) {
        case dtype::f16: {
            int64_t i = 0;
            for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, load_w(t, p, i));
            for (; i < n; ++i) dst[i] = fp16_to_f32(reinterpret_cast<const uint16_t*>(p)[i]);
            return true;
        }
        case dtype::q8_0:
            decode_q8_0(reinterpret_cast<const block_q8_0*>(p), n / 32, f);
            return true;
        case dtype::q4_0:
            decode_q4_0(reinterpret_cast<const block_q4_0*>(p), n / 32, f);
            return true;
        case dtype::q6_k:
            decode_q6_k(reinterpret_cast<const block_q6_k*>(p), n / 256, f);
            return true;
        case dtype::q4_k: {
            __m256 mins = no_mins;  // dmin * min of the current super-block's 8 sub-blocks
            auto fk = [&](int64_t k, __m512i w, __m512 ws) {
                // Step k covers sub-blocks 2c, 2c + 1: move their mins to positions 0, 1.
                const int c = static_cast<int>(k % 4);
                const __m256 m = _mm256_permutevar8x32_ps(mins, _mm256_set_epi32(0, 0, 0, 0, 0, 0, 2 * c + 1, 2 * c));
                store_step(dst + 64 * k, w, ws, m, 64);
            };
            decode_q4_k(reinterpret_cast<const block_q4_k*>(p), n / 256, fk, [&](int64_t, __m256 m) { mins = m; });
            return true;
        }
        default:
            return false;
    }
}

}  // namespace

const kernel_table* avx512_kernels() {
    static const kernel_table table{cpu_level::avx512, 8,         false,        has_q8,     quantize_act, act_block,
                                    matmul_q8,         has_float, matmul_float, dequantize, nullptr,
                                    nullptr,  // attention, activations: AVX2's
                                    nullptr,
                                    nullptr,  // packed weights: AVX2's
                                    nullptr,           nullptr};
    return &table;
}

}  // namespace tandem::cpu
