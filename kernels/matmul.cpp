// The matmul driver: picks the int8 multi-row kernel, the float kernel or the dequantize-then-dot
// fallback, and splits weight rows over the thread pool. Every path computes each output with the
// same per-row arithmetic whatever n_rows and the thread split are (batch invariance).
#include "kernels/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/dispatch.h"
#include "kernels/pack.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace tandem {
namespace {

constexpr int64_t k_row_grain = 16;           // weight rows per chunk, at least
constexpr int64_t k_arrange_grain = 1 << 15;  // activation floats per chunk of the arrangement, at least

struct act_buffer {
    std::vector<uint8_t> q;
    std::vector<float> d, s;
    std::vector<int16_t> hs;
};

void matmul_int8(const cpu::kernel_table& k, dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_out, int64_t n_in,
                 const float* x, int64_t n_rows, float* y, thread_pool& pool, const uint8_t* packed) {
    thread_local act_buffer buf;  // grows to the largest shape seen; no allocation in steady state
    cpu::act_q8 a;
    a.n_in = n_in;
    a.wt = wt;
    a.n_pad = (n_in + 63) / 64 * 64;
    // Per-block arrays are padded to whole groups of 8 blocks (zeros), so kernels may load 8 at a time.
    const int64_t nb_groups = (a.n_pad / 32 + 7) / 8 * 8;
    a.d_stride = nb_groups * k.d_per_block;
    a.s_stride = nb_groups;
    const auto need = [&](auto& v, int64_t n) {
        if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
        return v.data();
    };
    a.q = need(buf.q, n_rows * a.n_pad);
    a.d = need(buf.d, n_rows * a.d_stride);
    a.s = need(buf.s, n_rows * a.s_stride);
    if (k.half_sums) {
        a.h_stride = 2 * nb_groups;
        a.hs = need(buf.hs, n_rows * a.h_stride);
    }
    pool.parallel_for(n_rows, 1, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) k.quantize_act(x + r * n_in, a, r);
    });
    if (packed) {
        pool.parallel_for(n_out / k_pack_rows, k_row_grain / k_pack_rows, [&](int64_t b, int64_t e) {
            k.matmul_packed(wt, packed, b * k_pack_rows, e * k_pack_rows, n_out, a, n_rows, y);
        });
        return;
    }
    pool.parallel_for(n_out, k_row_grain,
                      [&](int64_t b, int64_t e) { k.matmul_q8(wt, w, row_bytes, b, e, n_out, a, n_rows, y); });
}

// Any type, any level: decode a block of weight rows to f32, then dot them with every activation row.
void matmul_generic(const cpu::kernel_table* k, dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_out,
                    int64_t n_in, const float* x, int64_t n_rows, float* y, thread_pool& pool) {
    const int64_t blk = std::max<int64_t>(1, (int64_t{256} << 10) / (4 * std::max<int64_t>(n_in, 1)));
    pool.parallel_for(n_out, k_row_grain, [&](int64_t b, int64_t e) {
        thread_local std::vector<float> wd;
        if (wd.size() < static_cast<size_t>(blk * n_in)) wd.resize(static_cast<size_t>(blk * n_in));
        for (int64_t o0 = b; o0 < e; o0 += blk) {
            const int64_t n_o = std::min(blk, e - o0);
            for (int64_t o = 0; o < n_o; ++o) dequantize_row(wt, w + (o0 + o) * row_bytes, wd.data() + o * n_in, n_in);
            if (k) {
                k->matmul_float(dtype::f32, reinterpret_cast<const uint8_t*>(wd.data()), static_cast<size_t>(4 * n_in),
                                n_in, 0, n_o, n_out, x, n_rows, y + o0);
                continue;
            }
            for (int64_t o = 0; o < n_o; ++o) {
                const float* wr = wd.data() + o * n_in;
                for (int64_t r = 0; r < n_rows; ++r) {
                    const float* xr = x + r * n_in;
                    float s = 0;
                    for (int64_t i = 0; i < n_in; ++i) s += wr[i] * xr[i];
                    y[r * n_out + o0 + o] = s;
                }
            }
        }
    });
}

// The table of the highest level up to the active one with a kernel of this kind for wt.
const cpu::kernel_table* table_with(bool (*cpu::kernel_table::*has)(dtype), dtype wt) {
    return cpu::table_where([&](const cpu::kernel_table& k) { return (k.*has)(wt); });
}

// The table of the highest level up to the active one that reads packed weights of type wt (with its
// own quantize_act: the packed kernels take their level's activation encoding). A lower level's is
// borrowed where the active level has none: AVX2's packed q4_K-q6_K quantize the activations with one
// scale per 256 where AVX-512's unpacked kernels take one per 32 (as the AVX2 level and llama.cpp's
// q8_K do), and the packed float tiles replace AVX-512's unpacked float kernel. On an AVX-512 machine
// (llama-110m, 2 threads, 1 / 4 / 16-row steps, tok/s) Q4_K_M went from 159 / 413 / 413 unpacked to
// 225 / 598 / 782, F16 from 72 / 206 / 350 to 103 / 249 / 491.
const cpu::kernel_table* packed_table(dtype wt) {
    return cpu::table_where([&](const cpu::kernel_table& t) { return t.has_packed && t.has_packed(wt); });
}

}  // namespace

bool matmul_packs(dtype wt, int64_t n_out, int64_t n_in) {
    return pack_supported(wt) && packed_table(wt) && n_out % k_pack_rows == 0 && n_in % pack_tile_elems(wt) == 0;
}

int64_t matmul_act_block(dtype wt, bool packed) {
    const cpu::kernel_table* kp = packed ? packed_table(wt) : nullptr;
    const cpu::kernel_table* k = kp && kp->has_q8(wt) ? kp : table_with(&cpu::kernel_table::has_q8, wt);
    return k ? k->act_block(wt) : 0;
}

void matmul(dtype wt, const void* w, int64_t n_out, int64_t n_in, const float* x, int64_t n_rows, float* y,
            thread_pool& pool, const void* packed) {
    TANDEM_CHECK(n_out >= 0 && n_in >= 0 && n_rows >= 0);
    TANDEM_CHECK(n_in % dtype_info_of(wt).block_elems == 0);
    if (n_out == 0 || n_rows == 0) return;
    const auto* wb = static_cast<const uint8_t*>(w);
    const size_t row_bytes = dtype_row_bytes(wt, n_in);
    const cpu::kernel_table* kp = packed ? packed_table(wt) : nullptr;
    if (kp && !kp->has_q8(wt)) {  // a packed float weight
        TANDEM_CHECK(n_out % k_pack_rows == 0 && n_in % pack_tile_elems(wt) == 0);
        const auto* p = static_cast<const uint8_t*>(packed);
        // One row is its own arrangement: a decode step reads x as it is. More rows go to the caller's
        // buffer, reached through xa (in the workers `arranged` would name their own), split by elements
        // over the threads where there is enough to move (a 512-row llama-110m prompt spent 3% of its
        // time arranging on one thread while the other waited).
        const float* xa = x;
        if (n_rows > 1) {
            thread_local std::vector<float> arranged;  // grows to the largest call's activations, then reused
            if (arranged.size() < static_cast<size_t>(n_rows * n_in))
                arranged.resize(static_cast<size_t>(n_rows * n_in));
            float* const out = arranged.data();
            pool.parallel_for(n_in, std::max<int64_t>(64, k_arrange_grain / n_rows),
                              [&](int64_t b, int64_t e) { kp->arrange_packed_float_act(x, n_rows, n_in, out, b, e); });
            xa = out;
        }
        pool.parallel_for(n_out / k_pack_rows, k_row_grain / k_pack_rows, [&](int64_t b, int64_t e) {
            kp->matmul_packed_float(wt, p, n_in, b * k_pack_rows, e * k_pack_rows, n_out, xa, n_rows, y);
        });
    } else if (kp) {
        TANDEM_CHECK(n_out % k_pack_rows == 0);
        matmul_int8(*kp, wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool, static_cast<const uint8_t*>(packed));
    } else if (const cpu::kernel_table* k = table_with(&cpu::kernel_table::has_q8, wt)) {
        matmul_int8(*k, wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool, nullptr);
    } else if (const cpu::kernel_table* kf = table_with(&cpu::kernel_table::has_float, wt)) {
        pool.parallel_for(n_out, k_row_grain, [&](int64_t b, int64_t e) {
            kf->matmul_float(wt, wb, row_bytes, n_in, b, e, n_out, x, n_rows, y);
        });
    } else {
        matmul_generic(cpu::kernels_for(cpu_level_active()), wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool);
    }
}

}  // namespace tandem
