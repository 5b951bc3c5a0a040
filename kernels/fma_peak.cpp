#include "kernels/fma_peak.h"

#include <immintrin.h>

#include <algorithm>

#include "common/timing.h"
#include "kernels/dispatch.h"

namespace tandem {
namespace {

constexpr int64_t k_chunk_iters = 200'000;  // about 1 ms of one core's FMAs
constexpr int k_chains = 12;                // independent chains: enough to cover the FMA latency on two pipes
constexpr double k_chunk_flops = 2.0 * 8 * k_chains * static_cast<double>(k_chunk_iters);

// Named registers, not an array: GCC kept an array of chains in memory, a store and a load per FMA.
__attribute__((target("avx2,fma"))) void fma_chunk() {
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    __m256 c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;
    for (int64_t i = 0; i < k_chunk_iters; ++i) {
        c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b), c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b), c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b), c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b), c10 = _mm256_fmadd_ps(c10, a, b), c11 = _mm256_fmadd_ps(c11, a, b);
        // The chains are live, so the loop is not folded away.
        asm volatile(""
                     : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7), "+x"(c8),
                       "+x"(c9), "+x"(c10), "+x"(c11));
    }
}

}  // namespace

double fma_peak_gflops(thread_pool& pool, int passes) {
    if (cpu_level_active() < cpu_level::avx2) return 0;
    // Many chunks per thread, claimed as threads free up: the figure is what the threads do together.
    const int64_t n_chunks = 32 * pool.size();
    double best = 0;
    for (int rep = 0; rep < passes; ++rep) {
        const auto t = steady_clock::now();
        pool.parallel_for(n_chunks, 1, [&](int64_t lo, int64_t hi) {
            for (int64_t i = lo; i < hi; ++i) fma_chunk();
        });
        best = std::max(best, static_cast<double>(n_chunks) * k_chunk_flops / seconds_since(t) / 1e9);
    }
    return best;
}

}  // namespace tandem
