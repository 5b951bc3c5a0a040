// Float weights (f32, f16, bf16) times f32 activation rows on AVX2: y[r * n_out + o] = W[o] . x_r.
// Per output the arithmetic is fixed whatever the shape of the call: eight lanes of partial sums,
// one FMA per lane per 8 elements in element order, then hsum, then the n_in % 8 tail in order.
// Tiles and blocks only choose which outputs are computed together and where their partial sums
// wait between blocks (registers or a buffer), so a row's result does not depend on the other rows
// of the batch (batch invariance) and equals the one-row path bit for bit.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_kernels.h"

namespace tandem::cpu {
namespace {

constexpr int64_t k_prefetch_bytes = 512;  // how far ahead of the weight row being read to prefetch

// From this many activation rows on, the blocked path: its weights are converted to f32 once per
// block for all rows, which a few rows do not repay.
constexpr int64_t k_blocked_min_rows = 12;
constexpr int64_t k_chunk = 256;           // elements per k-chunk of the blocked path (a multiple of 8)
constexpr int64_t k_block_rows = 64;       // weight rows per block of the blocked path
constexpr int k_tile_w = 4, k_tile_r = 3;  // the blocked path's register tile: 12 accumulators

template <dtype T>
constexpr int64_t k_elem_bytes = T == dtype::f32 ? 4 : 2;

// W weight rows (row_bytes apart) x R activation rows, one FMA chain per output: W * R chains hide
// the FMA latency, and each weight and activation load serves R and W outputs.
template <dtype T, int W, int R>
void float_tile(const uint8_t* w, size_t row_bytes, int64_t n_in, const float* x, float* y, int64_t n_out) {
    __m256 acc[W][R];
    for (int k = 0; k < W; ++k)
        for (int r = 0; r < R; ++r) acc[k][r] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n_in; i += 8) {
        if (i % 32 == 0) {
            // Mmapped weights: the hardware prefetcher stops at 4 KiB pages.
            for (int k = 0; k < W; ++k)
                _mm_prefetch(reinterpret_cast<const char*>(w + k * row_bytes + i * k_elem_bytes<T>) + k_prefetch_bytes,
                             _MM_HINT_T0);
        }
        __m256 wv[W];
        for (int k = 0; k < W; ++k) wv[k] = load_w8(T, w + k * row_bytes, i);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m256 xv = _mm256_loadu_ps(x + r * n_in + i);
            for (int k = 0; k < W; ++k) acc[k][r] = _mm256_fmadd_ps(wv[k], xv, acc[k][r]);
        }
    }
    for (int k = 0; k < W; ++k) {
        for (int r = 0; r < R; ++r) {
            float t = hsum(acc[k][r]);
            for (int64_t j = i; j < n_in; ++j) t += load_w1(T, w + k * row_bytes, j) * x[r * n_in + j];
            y[r * n_out + k] = t;
        }
    }
}

// Weight rows [o0, o1) against R activation rows, W weight rows at a time while they last.
template <dtype T, int W, int R>
void float_rows(const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o0, int64_t o1, const float* x, float* y,
                int64_t n_out) {
    int64_t o = o0;
    for (; o + W <= o1; o += W) float_tile<T, W, R>(w + o * row_bytes, row_bytes, n_in, x, y + o, n_out);
    for (; o < o1; ++o) float_tile<T, 1, R>(w + o * row_bytes, row_bytes, n_in, x, y + o, n_out);
}

// The few-row path: weight rows straight from memory, converted as they are read.
template <dtype T>
void matmul_few_rows(const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end, int64_t n_out,
                     const float* x, int64_t n_rows, float* y) {
    // Blocks of weight rows stay in L2 while every tile of activation rows passes over them.
    const int64_t ob = std::max<int64_t>(4, static_cast<int64_t>(k_block_bytes / std::max<size_t>(row_bytes, 1)));
    for (int64_t o0 = o_begin; o0 < o_end; o0 += ob) {
        const int64_t o1 = std::min(o_end, o0 + ob);
        for (int64_t r0 = 0; r0 < n_rows; r0 += k_max_rows) {
            const float* xr = x + r0 * n_in;
            float* yr = y + r0 * n_out;
            switch (std::min<int64_t>(k_max_rows, n_rows - r0)) {
                case 1:
                    float_rows<T, 4, 1>(w, row_bytes, n_in, o0, o1, xr, yr, n_out);
                    break;
                case 2:
                    float_rows<T, 4, 2>(w, row_bytes, n_in, o0, o1, xr, yr, n_out);
                    break;
                case 3:
                    float_rows<T, 2, 3>(w, row_bytes, n_in, o0, o1, xr, yr, n_out);
                    break;
                default:
                    float_rows<T, 2, 4>(w, row_bytes, n_in, o0, o1, xr, yr, n_out);
                    break;
            }
        }
    }
}

// Where the blocked path's last k-chunk writes its outputs: each output's lanes summed, then the
// n_in % 8 tail added in order from the original weight rows, as float_tile does.
struct chunk_out {
    const uint8_t* w;  // the tile's first original weight row
    size_t row_bytes;
    const float* x;  // the tile's first activation row, from element 0
    int64_t n8;      // where the tail starts
    float* y;        // y of the tile's first weight row and first activation row
    int64_t n_out;
};

// One register tile of the blocked path over one k-chunk: W f32 weight rows (wstride floats apart)
// against R activation rows (n_in floats apart) over elements [0, len), the partial sums taken up
// from part (W * R vectors, weight-major) or started at zero when first, and left in part, or, on
// the last chunk (out), finished into y.
template <dtype T, int W, int R>
void chunk_tile(const float* w, int64_t wstride, const float* x, int64_t n_in, int64_t len, float* part, bool first,
                const chunk_out* out) {
    __m256 acc[W][R];
    for (int k = 0; k < W; ++k)
        for (int r = 0; r < R; ++r) acc[k][r] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(part + 8 * (k * R + r));
    for (int64_t i = 0; i < len; i += 8) {
        __m256 xv[R];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + r * n_in + i);
        for (int k = 0; k < W; ++k) {
            const __m256 wv = _mm256_loadu_ps(w + k * wstride + i);
            for (int r = 0; r < R; ++r) acc[k][r] = _mm256_fmadd_ps(wv, xv[r], acc[k][r]);
        }
    }
    if (!out) {
        for (int k = 0; k < W; ++k)
            for (int r = 0; r < R; ++r) _mm256_storeu_ps(part + 8 * (k * R + r), acc[k][r]);
        return;
    }
    for (int k = 0; k < W; ++k) {
        const uint8_t* wr = out->w + k * out->row_bytes;
        for (int r = 0; r < R; ++r) {
            float t = hsum(acc[k][r]);
            for (int64_t j = out->n8; j < n_in; ++j) t += load_w1(T, wr, j) * out->x[r * n_in + j];
            out->y[r * out->n_out + k] = t;
        }
    }
}

// One k-chunk of a block for weight rows [k, k + W): every activation row in tiles of k_tile_r (then
// the 1 or 2 rows left), so the weight tile stays in L1 while the rows stream past it. Partial sums
// of weight row k + i and activation row r wait at parts[8 * (k * n_rows + r * W) ...], in
// chunk_tile's order. last: out holds the block's first original weight row, x from element 0 and y.
template <dtype T, int W>
void chunk_rows(const float* wf, int64_t wstride, int64_t k, const float* x, int64_t n_in, int64_t n_rows, int64_t len,
                float* parts, bool first, const chunk_out* last) {
    const float* w = wf + k * wstride;
    float* part = parts + 8 * k * n_rows;
    const auto tile = [&]<int R>(int64_t r) {
        chunk_out out;
        if (last) {
            out = *last;
            out.w += k * out.row_bytes;
            out.x += r * n_in;
            out.y += r * out.n_out + k;
        }
        chunk_tile<T, W, R>(w, wstride, x + r * n_in, n_in, len, part + 8 * r * W, first, last ? &out : nullptr);
    };
    int64_t r = 0;
    for (; r + k_tile_r <= n_rows; r += k_tile_r) tile.template operator()<k_tile_r>(r);
    if (n_rows - r == 2) tile.template operator()<2>(r);
    if (n_rows - r == 1) tile.template operator()<1>(r);
}

// The blocked path: per block of weight rows and k-chunk, the weights are converted to f32 once (a
// buffer that stays in L1/L2) and every activation row passes over them in register tiles; the
// partial sums of the block's outputs wait in a buffer between chunks.
template <dtype T>
void matmul_blocked(const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end, int64_t n_out,
                    const float* x, int64_t n_rows, float* y) {
    thread_local std::vector<float> wbuf;
    thread_local std::vector<float> parts;  // 8 lanes per output
    const int64_t n8 = n_in / 8 * 8;
    if (wbuf.size() < static_cast<size_t>(k_block_rows * k_chunk))
        wbuf.resize(static_cast<size_t>(k_block_rows * k_chunk));
    if (parts.size() < static_cast<size_t>(8 * k_block_rows * n_rows))
        parts.resize(static_cast<size_t>(8 * k_block_rows * n_rows));
    for (int64_t o0 = o_begin; o0 < o_end; o0 += k_block_rows) {
        const int64_t nb = std::min(k_block_rows, o_end - o0);
        for (int64_t c0 = 0; c0 < n8; c0 += k_chunk) {
            const int64_t len = std::min(k_chunk, n8 - c0);
            const float* wf;
            int64_t wstride;
            if constexpr (T == dtype::f32) {
                wf = reinterpret_cast<const float*>(w + o0 * row_bytes) + c0;
                wstride = static_cast<int64_t>(row_bytes / 4);
            } else {
                for (int64_t k = 0; k < nb; ++k) {
                    const uint8_t* src = w + (o0 + k) * row_bytes;
                    float* dst = wbuf.data() + k * k_chunk;
                    for (int64_t i = 0; i < len; i += 8) _mm256_storeu_ps(dst + i, load_w8(T, src, c0 + i));
                }
                wf = wbuf.data();
                wstride = k_chunk;
            }
            const chunk_out last{w + o0 * row_bytes, row_bytes, x, n8, y + o0, n_out};
            const chunk_out* out = c0 + len == n8 ? &last : nullptr;
            int64_t k = 0;
            for (; k + k_tile_w <= nb; k += k_tile_w)
                chunk_rows<T, k_tile_w>(wf, wstride, k, x + c0, n_in, n_rows, len, parts.data(), c0 == 0, out);
            for (; k < nb; ++k) chunk_rows<T, 1>(wf, wstride, k, x + c0, n_in, n_rows, len, parts.data(), c0 == 0, out);
        }
    }
}

template <dtype T>
void matmul_float_t(const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end, int64_t n_out,
                    const float* x, int64_t n_rows, float* y) {
    if (n_rows >= k_blocked_min_rows && n_in >= 8)
        matmul_blocked<T>(w, row_bytes, n_in, o_begin, o_end, n_out, x, n_rows, y);
    else
        matmul_few_rows<T>(w, row_bytes, n_in, o_begin, o_end, n_out, x, n_rows, y);
}

}  // namespace

bool avx2_has_float(dtype wt) {
    return wt == dtype::f32 || wt == dtype::f16 || wt == dtype::bf16;
}

void avx2_matmul_float(dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end,
                       int64_t n_out, const float* x, int64_t n_rows, float* y) {
    switch (wt) {
        case dtype::f16:
            return matmul_float_t<dtype::f16>(w, row_bytes, n_in, o_begin, o_end, n_out, x, n_rows, y);
        case dtype::bf16:
            return matmul_float_t<dtype::bf16>(w, row_bytes, n_in, o_begin, o_end, n_out, x, n_rows, y);
        default:
            return matmul_float_t<dtype::f32>(w, row_bytes, n_in, o_begin, o_end, n_out, x, n_rows, y);
    }
}

}  // namespace tandem::cpu
