// Tandem's matmul beside llama.cpp's own CPU dot products on the same weights, in one process:
// for each type, the weights are quantized by the peer (ggml_quantize_chunk from its libggml-base,
// with an importance matrix of ones where a type needs one), Tandem multiplies them as the CPU
// backend does (packed where its level packs the type), and llama.cpp runs its vec_dot for the type
// (ggml_get_type_traits_cpu from its libggml-cpu) row by row after quantizing the activations with
// its own from_float. Both run on one thread, calls alternate A, B, A, B, and the best time of each
// is printed with their ratio, so the machine's noise falls on both sides alike. Tandem's side also
// covers the rows >1 case its kernels tile; llama.cpp's vec_dot is its 1-row kernel (llama-bench
// measures its batched paths). The peer build is AVX2: compare with TANDEM_CPU=avx2.
// Usage: bench_peer_kernels [--types q8_0,q4_0,...] [--shape 2048x2048] [--seconds 1] [--shared DIR]
#include <dlfcn.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/timing.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"
#include "kernels/pack.h"
#include "kernels/thread_pool.h"
#include "tests/peer_lib.h"

namespace {

using namespace tandem;

// llama.cpp's CPU type traits (ggml-cpu.h), as its build 9749 lays them out.
using from_float_fn = void (*)(const float*, void*, int64_t);
using vec_dot_fn = void (*)(int, float*, size_t, const void*, size_t, const void*, size_t, int);
struct ggml_cpu_traits {
    from_float_fn from_float;
    vec_dot_fn vec_dot;
    uint32_t vec_dot_type;
    int64_t nrows;
};

struct peer {
    void (*quantize_init)(uint32_t) = nullptr;
    size_t (*quantize_chunk)(uint32_t, const float*, void*, int64_t, int64_t, int64_t, const float*) = nullptr;
    const ggml_cpu_traits* (*traits)(uint32_t) = nullptr;
};

peer load_peer(const std::string& shared) {
    // libggml-base first, globally, so libggml-cpu's dependency on it is met by its soname.
    void* base = dlopen(test::peer_library(shared, "libggml-base.so").c_str(), RTLD_NOW | RTLD_GLOBAL);
    void* cpu = base ? dlopen(test::peer_library(shared, "libggml-cpu.so").c_str(), RTLD_NOW | RTLD_GLOBAL) : nullptr;
    if (!cpu) {
        std::fprintf(stderr, "bench_peer_kernels: cannot load llama.cpp's libraries under %s/peer/lib: %s\n",
                     shared.c_str(), dlerror());
        std::exit(1);
    }
    if (auto init = reinterpret_cast<void (*)()>(dlsym(cpu, "ggml_cpu_init"))) init();
    peer p;
    p.quantize_init = reinterpret_cast<decltype(p.quantize_init)>(dlsym(base, "ggml_quantize_init"));
    p.quantize_chunk = reinterpret_cast<decltype(p.quantize_chunk)>(dlsym(base, "ggml_quantize_chunk"));
    p.traits = reinterpret_cast<decltype(p.traits)>(dlsym(cpu, "ggml_get_type_traits_cpu"));
    if (!p.quantize_init || !p.quantize_chunk || !p.traits) {
        std::fprintf(
            stderr,
            "bench_peer_kernels: llama.cpp's libraries lack ggml_quantize_init / _chunk or ggml_get_type_traits_cpu\n");
        std::exit(1);
    }
    return p;
}

double best_of(std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
}

void bench_type(const peer& pr, dtype t, int64_t n_out, int64_t n_in, double seconds, thread_pool& one) {
    const auto id = static_cast<uint32_t>(t);
    const ggml_cpu_traits* tr = pr.traits(id);
    const ggml_cpu_traits* act = tr ? pr.traits(tr->vec_dot_type) : nullptr;
    if (!tr || !tr->vec_dot || !act || !act->from_float) {
        std::printf("%-8s llama.cpp has no CPU dot product for it\n", std::string(dtype_info_of(t).name).c_str());
        return;
    }
    std::mt19937 rng(7);
    std::normal_distribution<float> nd;
    std::vector<float> wf(static_cast<size_t>(n_out * n_in)), x(static_cast<size_t>(n_in));
    for (float& v : wf) v = nd(rng);
    for (float& v : x) v = nd(rng);
    const std::vector<float> ones(static_cast<size_t>(n_in), 1.0f);
    const size_t row_bytes = dtype_row_bytes(t, n_in);
    std::vector<uint8_t> w(row_bytes * static_cast<size_t>(n_out) + 64);
    pr.quantize_init(id);  // the IQ types' codebook search tables
    pr.quantize_chunk(id, wf.data(), w.data(), 0, n_out, n_in, ones.data());
    std::vector<uint8_t> packed;
    if (matmul_packs(t, n_out, n_in)) {
        packed.resize(pack_bytes(t, n_out, n_in));
        pack_weight(t, w.data(), n_in, 0, n_out, packed.data());
    }
    const size_t act_bytes = dtype_row_bytes(static_cast<dtype>(tr->vec_dot_type), n_in);
    std::vector<uint8_t> qx(act_bytes + 64);
    std::vector<float> y_ours(static_cast<size_t>(n_out)), y_peer(static_cast<size_t>(n_out));
    const auto ours = [&] {
        matmul(t, w.data(), n_out, n_in, x.data(), 1, y_ours.data(), one, packed.empty() ? nullptr : packed.data());
    };
    const auto theirs = [&] {
        act->from_float(x.data(), qx.data(), n_in);
        for (int64_t o = 0; o < n_out; ++o)
            tr->vec_dot(static_cast<int>(n_in), &y_peer[static_cast<size_t>(o)], 0, w.data() + o * row_bytes, 0,
                        qx.data(), 0, 1);
    };
    ours();
    theirs();
    double worst = 0, scale = 0;  // the largest difference, and the largest output
    for (int64_t o = 0; o < n_out; ++o) {
        worst = std::max(worst, static_cast<double>(std::fabs(y_ours[o] - y_peer[o])));
        scale = std::max(scale, static_cast<double>(std::fabs(y_peer[o])));
    }
    std::vector<double> a, b;
    const auto start = steady_clock::now();
    while (a.size() < 5 || (seconds_since(start) < seconds && a.size() < 2000)) {
        auto t0 = steady_clock::now();
        ours();
        a.push_back(seconds_since(t0));
        t0 = steady_clock::now();
        theirs();
        b.push_back(seconds_since(t0));
    }
    if (scale == 0) {
        std::printf("%-8s the quantized weights give only zeros: not measured\n",
                    std::string(dtype_info_of(t).name).c_str());
        return;
    }
    const double ta = best_of(a), tb = best_of(b);
    std::printf(
        "%-8s%-7s %5lldx%-5lld  Tandem %8.3f ms  llama.cpp %8.3f ms  %5.2fx  (outputs differ by %.1e of the largest)\n",
        std::string(dtype_info_of(t).name).c_str(), packed.empty() ? "" : " packed", static_cast<long long>(n_out),
        static_cast<long long>(n_in), ta * 1e3, tb * 1e3, tb / ta, scale > 0 ? worst / scale : 0.0);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> types{"q8_0",    "q4_0",   "q4_K",  "q5_K",    "q6_K",  "q2_K",  "q3_K", "iq4_xs",
                                   "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m"};
    std::string shape = "2048x2048", shared = TANDEM_SHARED_DIR;
    double seconds = 1.0;
    CLI::App app("Tandem's 1-row matmul beside llama.cpp's CPU dot products, one thread, same weights");
    app.add_option("--types", types, "Weight types")->delimiter(',');
    app.add_option("--shape", shape, "Output rows x input columns");
    app.add_option("--seconds", seconds, "Time per type")->check(CLI::Range(0.05, 60.0));
    app.add_option("--shared", shared, "The shared folder holding peer/lib");
    CLI11_PARSE(app, argc, argv);
    const auto x = shape.find('x');
    const int64_t n_out = std::stoll(shape.substr(0, x)), n_in = std::stoll(shape.substr(x + 1));
    const peer pr = load_peer(shared);
    thread_pool one(1);
    std::printf("cpu level %s, 1 thread; ratio = llama.cpp time / Tandem time (above 1: Tandem faster)\n",
                cpu_level_name(cpu_level_active()));
    for (const std::string& name : types) {
        const auto t = dtype_from_name(name);
        if (!t || n_in % dtype_info_of(*t).block_elems != 0) {
            std::fprintf(stderr, "bench_peer_kernels: unknown type %s, or %lld columns not whole blocks of it\n",
                         name.c_str(), static_cast<long long>(n_in));
            return 1;
        }
        bench_type(pr, *t, n_out, n_in, seconds, one);
    }
}
