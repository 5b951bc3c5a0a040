// The matmul driver: picks the int8 multi-row kernel, the float kernel, the dequantize-then-dot
// fallback, or the BLAS GEMM on dequantized tiles, and splits weight rows over the thread pool.
#include "kernels/matmul.h"

#include <cblas.h>

#include <mutex>
#include <string>
#include <vector>

#include "common/check.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/dispatch.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"

namespace tandem {
namespace {

constexpr int64_t k_gemm_min_rows = 33;  // the GEMM path wins from about this many rows
constexpr int64_t k_row_grain = 16;      // weight rows per chunk, at least

struct act_buffer {
    std::vector<uint8_t> q;
    std::vector<float> d, s;
};

void matmul_int8(const cpu::kernel_table& k, dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_out,
                 int64_t n_in, const float* x, int64_t n_rows, float* y, thread_pool& pool) {
    thread_local act_buffer buf;  // grows to the largest shape seen; no allocation in steady state
    cpu::act_q8 a;
    a.n_in = n_in;
    a.n_pad = (n_in + 63) / 64 * 64;
    a.d_stride = a.n_pad / 32 * k.d_per_block;
    a.s_stride = a.n_pad / 32;
    const auto need = [&](auto& v, int64_t n) {
        if (v.size() < static_cast<size_t>(n)) v.resize(static_cast<size_t>(n));
        return v.data();
    };
    a.q = need(buf.q, n_rows * a.n_pad);
    a.d = need(buf.d, n_rows * a.d_stride);
    a.s = need(buf.s, n_rows * a.s_stride);
    pool.parallel_for(n_rows, 1, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) k.quantize_act(x + r * n_in, a, r);
    });
    pool.parallel_for(n_out, k_row_grain, [&](int64_t b, int64_t e) {
        k.matmul_q8(wt, w, row_bytes, b, e, n_out, a, n_rows, y);
    });
}

// Any type, any level: decode one weight row, then dot it with every activation row.
void matmul_generic(const cpu::kernel_table* k, dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_out,
                    int64_t n_in, const float* x, int64_t n_rows, float* y, thread_pool& pool) {
    pool.parallel_for(n_out, k_row_grain, [&](int64_t b, int64_t e) {
        thread_local std::vector<float> wr;
        if (wr.size() < static_cast<size_t>(n_in)) wr.resize(static_cast<size_t>(n_in));
        for (int64_t o = b; o < e; ++o) {
            dequantize_row(wt, w + o * row_bytes, wr.data(), n_in);
            if (k) {
                k->matmul_float(dtype::f32, reinterpret_cast<const uint8_t*>(wr.data()), 0, n_in, 0, 1, n_out, x, n_rows,
                                y + o);
                continue;
            }
            for (int64_t r = 0; r < n_rows; ++r) {
                const float* xr = x + r * n_in;
                float s = 0;
                for (int64_t i = 0; i < n_in; ++i) s += wr[static_cast<size_t>(i)] * xr[i];
                y[r * n_out + o] = s;
            }
        }
    });
}

// Many rows: sgemm against tiles of W decoded to f32 (f32 weights are used in place).
void matmul_gemm(dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_out, int64_t n_in, const float* x,
                 int64_t n_rows, float* y, thread_pool& pool) {
    static std::once_flag once;
    std::call_once(once, [] { openblas_set_num_threads(1); });  // our pool provides the parallelism
    // Tiles of about 2 MiB of decoded weights: wide enough (N >= 64 for n_in = 8192) for sgemm's kernels.
    const int64_t tile = std::clamp<int64_t>((int64_t{1} << 19) / std::max<int64_t>(n_in, 1), 16, 128);
    const int64_t n_tiles = (n_out + tile - 1) / tile;
    pool.parallel_for(n_tiles, 1, [&](int64_t b, int64_t e) {
        thread_local std::vector<float> wt_buf;
        for (int64_t t = b; t < e; ++t) {
            const int64_t o0 = t * tile, n_o = std::min(tile, n_out - o0);
            const float* wf;
            if (wt == dtype::f32) {
                wf = reinterpret_cast<const float*>(w + o0 * row_bytes);
            } else {
                if (wt_buf.size() < static_cast<size_t>(tile * n_in)) wt_buf.resize(static_cast<size_t>(tile * n_in));
                for (int64_t o = 0; o < n_o; ++o) dequantize_row(wt, w + (o0 + o) * row_bytes, wt_buf.data() + o * n_in, n_in);
                wf = wt_buf.data();
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_rows), static_cast<int>(n_o),
                        static_cast<int>(n_in), 1.0f, x, static_cast<int>(n_in), wf, static_cast<int>(n_in), 0.0f,
                        y + o0, static_cast<int>(n_out));
        }
    });
}

}  // namespace

int64_t matmul_gemm_min_rows() { return k_gemm_min_rows; }

void matmul(dtype wt, const void* w, int64_t n_out, int64_t n_in, const float* x, int64_t n_rows, float* y,
            thread_pool& pool) {
    TANDEM_CHECK(n_out >= 0 && n_in >= 0 && n_rows >= 0);
    TANDEM_CHECK(n_in % dtype_info_of(wt).block_elems == 0);
    if (n_out == 0 || n_rows == 0) return;
    const auto* wb = static_cast<const uint8_t*>(w);
    const size_t row_bytes = dtype_row_bytes(wt, n_in);
    if (n_rows >= k_gemm_min_rows) {
        matmul_gemm(wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool);
        return;
    }
    const cpu::kernel_table* k = cpu::kernels_for(cpu_level_active());
    if (k && k->has_q8(wt)) {
        matmul_int8(*k, wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool);
    } else if (k && (wt == dtype::f32 || wt == dtype::f16)) {
        pool.parallel_for(n_out, k_row_grain, [&](int64_t b, int64_t e) {
            k->matmul_float(wt, wb, row_bytes, n_in, b, e, n_out, x, n_rows, y);
        });
    } else {
        matmul_generic(k, wt, wb, row_bytes, n_out, n_in, x, n_rows, y, pool);
    }
}

}  // namespace tandem
