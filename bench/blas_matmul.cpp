// Tandem's packed float matmul beside OpenBLAS's sgemm on the same shapes and row counts, so the
// choice of kernel for float prompts rests on figures: F32 weights (sgemm reads them as they are)
// and F16 weights (Debian's OpenBLAS has no half-precision GEMM and exports no bf16 one, so its F16
// figure includes converting the weight to f32 in every call, the price of keeping one copy of it).
// OpenBLAS picks its kernels at load from the CPU or OPENBLAS_CORETYPE; the one in use is printed,
// since an unknown CPU gets its slow generic kernel.
// Usage: bench_blas [--threads N] [--rows 1,16,512] [--shapes 2048x2048,...]
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "common/timing.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/matmul.h"
#include "kernels/pack.h"
#include "kernels/thread_pool.h"

namespace {

using namespace tandem;

// Best time of repeated calls (the machine is shared: interference only adds time), in seconds.
double best_seconds(const std::function<void()>& call) {
    call();  // warm-up
    std::vector<double> times;
    const auto start = steady_clock::now();
    while (times.size() < 5 || (seconds_since(start) < 0.4 && times.size() < 200)) {
        const auto t0 = steady_clock::now();
        call();
        times.push_back(seconds_since(t0));
    }
    return *std::min_element(times.begin(), times.end());
}

void print(const char* what, int64_t n_out, int64_t n_in, int64_t n_rows, double s) {
    std::printf("%-28s %5lldx%-5lld rows %4lld  %9.3f ms  %7.1f GFLOP/s\n", what, static_cast<long long>(n_out),
                static_cast<long long>(n_in), static_cast<long long>(n_rows), s * 1e3,
                2.0 * static_cast<double>(n_out * n_in * n_rows) / s / 1e9);
    std::fflush(stdout);
}

void bench_shape(int64_t n_out, int64_t n_in, const std::vector<int64_t>& rows_list, thread_pool& pool) {
    std::mt19937 rng(42);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<float> w32(static_cast<size_t>(n_out * n_in)), wf(w32.size());
    std::vector<uint16_t> w16(w32.size());
    for (size_t i = 0; i < w32.size(); ++i) {
        w16[i] = f32_to_fp16(nd(rng));
        w32[i] = fp16_to_f32(w16[i]);
    }
    const bool packs = matmul_packs(dtype::f32, n_out, n_in) && matmul_packs(dtype::f16, n_out, n_in);
    std::vector<uint8_t> p32(packs ? pack_bytes(dtype::f32, n_out, n_in) : 0),
        p16(packs ? pack_bytes(dtype::f16, n_out, n_in) : 0);
    if (packs) {
        pack_weight(dtype::f32, w32.data(), n_in, 0, n_out, p32.data());
        pack_weight(dtype::f16, w16.data(), n_in, 0, n_out, p16.data());
    }
    const int64_t max_rows = *std::max_element(rows_list.begin(), rows_list.end());
    std::vector<float> x(static_cast<size_t>(max_rows * n_in)), y(static_cast<size_t>(max_rows * n_out));
    for (float& v : x) v = nd(rng) * 50.0f;
    const auto sgemm = [&](const float* w, int64_t n_rows) {  // y[r][o] = x[r] . w[o]
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n_rows), static_cast<int>(n_out),
                    static_cast<int>(n_in), 1.0f, x.data(), static_cast<int>(n_in), w, static_cast<int>(n_in), 0.0f,
                    y.data(), static_cast<int>(n_out));
    };
    for (int64_t n_rows : rows_list) {
        const auto tandem_mm = [&](dtype t, const void* w, const std::vector<uint8_t>& p) {
            return best_seconds(
                [&] { matmul(t, w, n_out, n_in, x.data(), n_rows, y.data(), pool, p.empty() ? nullptr : p.data()); });
        };
        print(packs ? "tandem f32 (packed)" : "tandem f32", n_out, n_in, n_rows,
              tandem_mm(dtype::f32, w32.data(), p32));
        print(packs ? "tandem f16 (packed)" : "tandem f16", n_out, n_in, n_rows,
              tandem_mm(dtype::f16, w16.data(), p16));
        print("openblas sgemm f32", n_out, n_in, n_rows, best_seconds([&] { sgemm(w32.data(), n_rows); }));
        print("openblas f16->f32 + sgemm", n_out, n_in, n_rows, best_seconds([&] {
                  pool.parallel_for(n_out, 16, [&](int64_t b, int64_t e) {
                      for (int64_t i = b * n_in; i < e * n_in; ++i)
                          wf[static_cast<size_t>(i)] = fp16_to_f32(w16[static_cast<size_t>(i)]);
                  });
                  sgemm(wf.data(), n_rows);
              }));
    }
}

}  // namespace

int main(int argc, char** argv) {
    int n_threads = 2;
    std::vector<std::string> shapes{"2048x2048", "8192x2048", "2048x8192", "768x768", "3072x768"};
    std::vector<int64_t> rows_list{1, 4, 16, 64, 512};
    CLI::App app("Tandem's packed float matmul beside OpenBLAS sgemm, by shape and activation rows");
    app.add_option("--threads", n_threads, "Threads (Tandem's pool and OpenBLAS's)")->check(CLI::Range(1, 1024));
    app.add_option("--rows", rows_list, "Activation row counts")->delimiter(',')->check(CLI::Range(1, 65536));
    app.add_option("--shapes", shapes, "Shapes, output rows x input columns")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    thread_pool pool(n_threads);
    openblas_set_num_threads(n_threads);
    std::printf("tandem: cpu level %s, %d threads; openblas: %s kernels (%s), %d threads\n",
                cpu_level_name(cpu_level_active()), n_threads, openblas_get_corename(), openblas_get_config(),
                openblas_get_num_threads());
    for (const std::string& shape : shapes) {
        const size_t sep = shape.find('x');
        if (sep == std::string::npos) {
            std::fprintf(stderr, "bad shape %s (want OUTxIN)\n", shape.c_str());
            return 1;
        }
        bench_shape(std::stoll(shape.substr(0, sep)), std::stoll(shape.substr(sep + 1)), rows_list, pool);
    }
    return 0;
}
