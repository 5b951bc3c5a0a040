// Matmul benchmark: time per call for 1..512 activation rows on 2048x8192 and 8192x2048 weights,
// the cost relative to one row, and GB/s of weight bytes read; plus a STREAM-like triad for the
// machine's memory bandwidth. Weights rotate through copies larger than the L3 cache so that
// few-row figures measure DRAM, as a real model would.
// Types the active level reads packed (kernels/pack.h) are timed both ways.
// Usage: bench_kernels [--threads N] [--types f16,q8_0,...] [--rows 1,2,4] [--shapes 2048x8192,...]
// (a shape is output rows x input columns)
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/timing.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/matmul.h"
#include "kernels/membw.h"
#include "kernels/pack.h"
#include "kernels/quant.h"
#include "kernels/thread_pool.h"

namespace {

using namespace tandem;

// Random bytes with sane f16 scales: the kernels' speed does not depend on the values, except that
// float weights must be normal numbers (random f32 or bf16 bits hold subnormals, whose FMAs take a
// microcode assist on Intel cores: 768x768 F32 at 512 rows ran at 39 GFLOP/s instead of ~90 a thread).
std::vector<uint8_t> make_weights(dtype t, int64_t n_out, int64_t n_in, std::mt19937& rng) {
    std::vector<uint8_t> w(dtype_row_bytes(t, n_in) * static_cast<size_t>(n_out));
    const dtype_info& info = dtype_info_of(t);
    if (info.block_elems == 1) {  // f32, f16, bf16
        std::normal_distribution<float> nd(0.0f, 0.02f);
        for (size_t off = 0; off < w.size(); off += info.block_bytes) {
            const float v = nd(rng);
            const uint32_t bits = t == dtype::f32 ? f32_to_bits(v) : t == dtype::f16 ? f32_to_fp16(v) : f32_to_bf16(v);
            std::memcpy(&w[off], &bits, info.block_bytes);  // little-endian: the low bytes
        }
        return w;
    }
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
    const uint16_t scale = f32_to_fp16(0.01f);
    for (size_t off = 0; off + info.block_bytes <= w.size(); off += info.block_bytes) {
        if (t == dtype::q6_k) {
            std::memcpy(&w[off + 208], &scale, 2);
        } else {
            std::memcpy(&w[off], &scale, 2);
            if (t == dtype::q4_k || t == dtype::q5_k || t == dtype::q4_1 || t == dtype::q5_1)
                std::memcpy(&w[off + 2], &scale, 2);
        }
    }
    return w;
}

// Bytes of weight copies to rotate through: twice the L3 cache, so that each call reads DRAM (at
// least 160 MiB where the size is unknown). 160 MiB stayed in the 260 MiB L3 of an Emerald Rapids VM
// and gave q4_K 1-row matmuls 34-40 GB/s where a model's step reads 25.
size_t rotation_bytes() {
    const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return std::max<size_t>(size_t{160} << 20, l3 > 0 ? 2 * static_cast<size_t>(l3) : 0);
}

// packed: the weight's packed layout (kernels/pack.h), as the CPU backend reads it where the level
// has a packed kernel.
void bench_shape(dtype t, int64_t n_out, int64_t n_in, const std::vector<int64_t>& rows_list, thread_pool& pool,
                 bool packed) {
    std::mt19937 rng(42);
    std::vector<uint8_t> w0 = make_weights(t, n_out, n_in, rng);
    const size_t bytes = w0.size();
    const int n_copies = static_cast<int>(std::max<size_t>(1, rotation_bytes() / bytes + 1));
    std::vector<std::vector<uint8_t>> copies(static_cast<size_t>(n_copies), w0);
    if (packed) {  // the packed copies stand in for both arguments: only they are read
        for (auto& c : copies) {
            c.resize(pack_bytes(t, n_out, n_in));
            pack_weight(t, w0.data(), n_in, 0, n_out, c.data());
        }
    }
    const auto run = [&](const std::vector<uint8_t>& w, int64_t n_rows, std::vector<float>& x, std::vector<float>& y) {
        matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool, packed ? w.data() : nullptr);
    };
    const int64_t max_rows = *std::max_element(rows_list.begin(), rows_list.end());
    std::vector<float> x(static_cast<size_t>(max_rows * n_in)), y(static_cast<size_t>(max_rows * n_out));
    std::normal_distribution<float> nd;
    for (float& v : x) v = nd(rng);
    double t1 = 0;
    int next = 0;
    for (int64_t n_rows : rows_list) {
        run(copies[0], n_rows, x, y);  // warm-up
        std::vector<double> times;
        const auto start = steady_clock::now();
        while (times.size() < 5 || (seconds_since(start) < 0.4 && times.size() < 200)) {
            const auto t0 = steady_clock::now();
            run(copies[static_cast<size_t>(next)], n_rows, x, y);
            times.push_back(seconds_since(t0));
            next = (next + 1) % n_copies;
        }
        std::sort(times.begin(), times.end());
        const double med = times[0];  // best of: the machine is shared, interference only adds time
        if (n_rows == rows_list.front()) t1 = med;
        std::printf(
            "%-5s%-7s %5lldx%-5lld rows %4lld  %9.3f ms (best)  x%6.2f of %lld-row  %7.1f GB/s weights  %8.1f "
            "GFLOP/s\n",
            std::string(dtype_info_of(t).name).c_str(), packed ? " packed" : "", static_cast<long long>(n_out),
            static_cast<long long>(n_in), static_cast<long long>(n_rows), med * 1e3, med / t1,
            static_cast<long long>(rows_list.front()), static_cast<double>(bytes) / med / 1e9,
            2.0 * static_cast<double>(n_out * n_in * n_rows) / med / 1e9);
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int n_threads = 2;
    std::vector<std::string> types{"f16", "q8_0", "q4_0", "q4_K", "q6_K"}, shapes{"2048x8192", "8192x2048"};
    std::vector<int64_t> rows_list{1, 2, 4, 8, 16, 64, 512};
    CLI::App app("Matmul time per call by weight type, shape and activation rows");
    app.add_option("--threads", n_threads, "Threads")->check(CLI::Range(1, 1024));
    app.add_option("--types", types, "Weight types")->delimiter(',');
    app.add_option("--rows", rows_list, "Activation row counts")->delimiter(',')->check(CLI::Range(1, 65536));
    app.add_option("--shapes", shapes, "Shapes, output rows x input columns")->delimiter(',');
    CLI11_PARSE(app, argc, argv);
    thread_pool pool(n_threads);
    std::printf("cpu level %s, %d threads\n", cpu_level_name(cpu_level_active()), n_threads);
    thread_pool one(1);
    std::printf("triad: %.1f GB/s (1 thread), %.1f GB/s (%d threads)\n", triad_gbps(one, int64_t{1} << 24, 5),
                triad_gbps(pool, int64_t{1} << 24, 5), n_threads);
    for (const std::string& name : types) {
        const auto t = dtype_from_name(name);
        if (!t) {
            std::fprintf(stderr, "unknown type %s\n", name.c_str());
            return 1;
        }
        for (const std::string& shape : shapes) {
            const size_t x = shape.find('x');
            const int64_t n_out = std::stoll(shape.substr(0, x)), n_in = std::stoll(shape.substr(x + 1));
            bench_shape(*t, n_out, n_in, rows_list, pool, false);
            if (matmul_packs(*t, n_out, n_in)) bench_shape(*t, n_out, n_in, rows_list, pool, true);
        }
    }
    return 0;
}
