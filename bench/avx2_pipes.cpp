// Which AVX2 instructions of the int8 matmul step compete for the same execution pipes: the
// throughput of each instruction alone, and of pairs, in instructions per cycle (12 independent
// register chains, so latency does not limit it). Two instructions on disjoint pipe pairs run at
// the sum of their rates; on the same pair, at the rate of one. The clock is estimated from a chain
// of dependent scalar adds (one per cycle). This is the evidence for the floor of a multi-row q8_0
// step: sign, maddubs, madd, convert and FMA per 32 weights and row, three of them on one pipe pair.
// Usage: bench_avx2_pipes
#include <immintrin.h>

#include <cstdint>
#include <cstdio>

#include "common/timing.h"

namespace {

using tandem::seconds_since;
using tandem::steady_clock;

constexpr int64_t k_iters = 20'000'000;

double clock_ghz() {
    uint64_t x = 1;
    const auto t0 = steady_clock::now();
    for (int64_t i = 0; i < k_iters * 4; ++i) {
        asm volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0" : "+r"(x));
    }
    return 4.0 * static_cast<double>(k_iters * 4) / seconds_since(t0) / 1e9;
}

__m256i op_sign(__m256i a, __m256i b) {
    return _mm256_sign_epi8(a, b);
}
__m256i op_maddubs(__m256i a, __m256i b) {
    return _mm256_maddubs_epi16(a, b);
}
__m256i op_madd(__m256i a, __m256i b) {
    return _mm256_madd_epi16(a, b);
}
__m256i op_cvt(__m256i a, __m256i) {
    return _mm256_castps_si256(_mm256_cvtepi32_ps(a));
}
__m256i op_fma(__m256i a, __m256i b) {
    const __m256 x = _mm256_castsi256_ps(a);
    return _mm256_castps_si256(_mm256_fmadd_ps(x, _mm256_castsi256_ps(b), x));
}
__m256i op_add(__m256i a, __m256i b) {
    return _mm256_add_epi32(a, b);
}
__m256i op_shuffle(__m256i a, __m256i b) {
    return _mm256_shuffle_epi8(a, b);
}

using op = __m256i (*)(__m256i, __m256i);

// Instructions per cycle of A and B alternating over 12 independent chains (6 each).
template <op A, op B>
double per_cycle(double ghz) {
    const __m256i b = _mm256_set1_epi16(1);
    __m256i c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b, c6 = b, c7 = b, c8 = b, c9 = b, c10 = b, c11 = b;
    const auto t0 = steady_clock::now();
    for (int64_t i = 0; i < k_iters; ++i) {
        c0 = A(c0, b), c1 = B(c1, b), c2 = A(c2, b), c3 = B(c3, b), c4 = A(c4, b), c5 = B(c5, b);
        c6 = A(c6, b), c7 = B(c7, b), c8 = A(c8, b), c9 = B(c9, b), c10 = A(c10, b), c11 = B(c11, b);
        asm volatile(""
                     : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5), "+x"(c6), "+x"(c7), "+x"(c8),
                       "+x"(c9), "+x"(c10), "+x"(c11));
    }
    const double s = seconds_since(t0);
    return 12.0 * static_cast<double>(k_iters) / (s * ghz * 1e9);
}

}  // namespace

int main() {
    const double ghz = clock_ghz();
    std::printf("clock ~%.2f GHz (dependent scalar adds); instructions per cycle, 12 independent chains:\n", ghz);
    struct row {
        const char* name;
        double (*run)(double);
    };
    const row rows[] = {
        {"vpaddd", per_cycle<op_add, op_add>},
        {"vpsignb", per_cycle<op_sign, op_sign>},
        {"vpmaddubsw", per_cycle<op_maddubs, op_maddubs>},
        {"vpmaddwd", per_cycle<op_madd, op_madd>},
        {"vcvtdq2ps", per_cycle<op_cvt, op_cvt>},
        {"vfmadd231ps", per_cycle<op_fma, op_fma>},
        {"vpshufb", per_cycle<op_shuffle, op_shuffle>},
        {"vpmaddubsw + vpmaddwd", per_cycle<op_maddubs, op_madd>},
        {"vpmaddwd + vcvtdq2ps", per_cycle<op_madd, op_cvt>},
        {"vpsignb + vfmadd231ps", per_cycle<op_sign, op_fma>},
        {"vpsignb + vcvtdq2ps", per_cycle<op_sign, op_cvt>},
        {"vpmaddwd + vfmadd231ps", per_cycle<op_madd, op_fma>},
        {"vcvtdq2ps + vfmadd231ps", per_cycle<op_cvt, op_fma>},
        {"vpmaddwd + vpshufb", per_cycle<op_madd, op_shuffle>},
    };
    for (const row& r : rows) std::printf("  %-26s %5.2f\n", r.name, r.run(ghz));
    return 0;
}
