// Every SIMD level this CPU supports against the scalar reference, on fresh random inputs (the seed
// is printed on failure; TANDEM_TEST_SEED=<n> replays it): dequantize_row and matmul over
// odd shapes and row counts (few and many rows go through the same kernels).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/blocks.h"
#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/ref/ref.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

using test::level_guard;
using test::levels;
using test::random_acts;
using test::random_weights;

const dtype k_types[] = {dtype::f32,   dtype::f16,    dtype::bf16,    dtype::q8_0,   dtype::q4_0,  dtype::q4_1,
                         dtype::q5_0,  dtype::q5_1,   dtype::q2_k,    dtype::q3_k,   dtype::q4_k,  dtype::q5_k,
                         dtype::q6_k,  dtype::iq4_nl, dtype::iq4_xs,  dtype::mxfp4,  dtype::q1_0,  dtype::q2_0,
                         dtype::tq1_0, dtype::tq2_0,  dtype::iq2_xxs, dtype::iq2_xs, dtype::iq2_s, dtype::iq3_xxs,
                         dtype::iq3_s, dtype::iq1_s,  dtype::iq1_m};

// Every block-quantized type has an int8 kernel (at AVX-512, some borrow AVX2's).
bool int8_path(dtype t) {
    return dtype_info_of(t).block_elems > 1;
}

int64_t block_of(dtype t) {
    return dtype_info_of(t).block_elems;
}

TEST(Simd, DequantizeMatchesReference) {
    test::seeded_rng rng;
    level_guard guard;
    for (cpu_level l : levels()) {
        cpu_level_set(l);
        for (dtype t : k_types) {
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            for (int64_t nb : {1, 3, 8}) {
                const int64_t n = nb * std::max<int64_t>(block_of(t), 32) + (block_of(t) == 1 ? 7 : 0);
                const std::vector<uint8_t> w = random_weights(t, 1, n, rng);
                std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
                ref::dequantize_row(t, w.data(), a.data(), n);
                dequantize_row(t, w.data(), b.data(), n);
                // code * scale rounds once in both for these; the types with mins may round twice in the reference.
                const bool exact = block_of(t) == 1 || t == dtype::q8_0 || t == dtype::q4_0;
                for (int64_t i = 0; i < n; ++i) {
                    if (exact)
                        ASSERT_EQ(b[i], a[i]) << "n=" << n << " i=" << i;
                    else
                        ASSERT_NEAR(b[i], a[i], 1e-6f * std::fabs(a[i]) + 1e-12f) << "n=" << n << " i=" << i;
                }
            }
        }
    }
}

// Error totals over one or more matmul checks of a type at a level.
struct error_stats {
    double err2 = 0, ref2 = 0;  // squared errors and squared exact outputs
    double ratio_sum = 0;       // err^2 / rounding variance, summed over outputs
    int64_t n = 0;              // outputs
    double nmse() const { return err2 / std::max(ref2, 1e-30); }
    double mean_ratio() const { return ratio_sum / static_cast<double>(std::max<int64_t>(n, 1)); }
};

// Compares matmul with the exact reference. Each element: at most the activation rounding to 8 bits
// in blocks of matmul_act_block(t) elements (32 or, for the K-quants at AVX2, 256, as llama.cpp's
// q8_0 and q8_K), amax_block / 254 per element times |w|, plus float slack. Over many elements: an
// activation rounded with step s = amax_block / 127 errs with variance about s^2 / 12, so an output
// errs with variance about v = sum (w_i s_i)^2 / 12, and err^2 / v averages near 1 (3 even if every
// activation sat half a step off the grid); the callers check that mean. The outputs of one
// activation row share its rounding, so the mean over one row's outputs swings (to 6 in 60 seeds of
// these small shapes, with q4_K's mins): the callers pool many rows. NMSE is no such check where
// exact outputs cancel, as q4_K's random mins make them do at times: one seed in a few hundred
// failed an NMSE bound at AVX-512's 32-element blocks.
void check_matmul(dtype t, int64_t n_out, int64_t n_in, int64_t n_rows, thread_pool& pool, std::mt19937& rng,
                  error_stats& stats, bool outliers = true) {
    const std::vector<uint8_t> w = random_weights(t, n_out, n_in, rng);
    const std::vector<float> x = random_acts(n_rows * n_in, rng, outliers);
    std::vector<float> y(static_cast<size_t>(n_rows * n_out), NAN), want(y.size());
    ref::matmul(t, w.data(), n_out, n_in, x.data(), n_rows, want.data());
    matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool);
    const int64_t act_block = matmul_act_block(t);  // 0: computed in f32
    const bool q8 = act_block > 0;
    const int64_t group = q8 ? act_block : 32;  // (the rounding terms are unused in f32)
    std::vector<float> wd(static_cast<size_t>(n_in));
    std::vector<double> step(static_cast<size_t>(n_in));
    for (int64_t o = 0; o < n_out; ++o) {
        ref::dequantize_row(t, w.data() + o * dtype_row_bytes(t, n_in), wd.data(), n_in);
        for (int64_t r = 0; r < n_rows; ++r) {
            const float* xr = x.data() + r * n_in;
            for (int64_t b0 = 0; b0 < n_in; b0 += group) {
                const int64_t b1 = std::min(b0 + group, n_in);
                double amax = 0;
                for (int64_t i = b0; i < b1; ++i) amax = std::max(amax, std::fabs(static_cast<double>(xr[i])));
                for (int64_t i = b0; i < b1; ++i) step[i] = amax / 127;
            }
            double mag = 0, qbound = 0, var = 0;
            for (int64_t i = 0; i < n_in; ++i) {
                const double wi = std::fabs(wd[i]);
                mag += wi * std::fabs(static_cast<double>(xr[i]));
                if (i < n_in / 32 * 32) {  // (a float tail, if any, is not rounded)
                    qbound += step[i] / 2 * wi;
                    var += wi * step[i] * wi * step[i] / 12;
                }
            }
            const double slack = 2e-6 * mag + 1e-20;
            const double got = y[r * n_out + o], ex = want[r * n_out + o];
            ASSERT_LE(std::fabs(got - ex), (q8 ? qbound * 1.001 : 0) + slack)
                << "o=" << o << " r=" << r << " got " << got << " want " << ex;
            stats.err2 += (got - ex) * (got - ex);
            stats.ref2 += ex * ex;
            stats.ratio_sum += (got - ex) * (got - ex) / (var + slack * slack);
            ++stats.n;
        }
    }
}

// The f16 encoder (the KV cache's default type) equals the reference bit for bit, at the edges of
// the f16 range too: subnormals, halfway cases, overflow to infinity, signed zeros.
TEST(Simd, F16EncodeMatchesReference) {
    test::seeded_rng rng;
    level_guard guard;
    std::vector<float> x = test::random_acts(1003, rng);
    for (float v : {0.0f, -0.0f, 1e-8f, -3e-7f, 6.1e-5f, 5.96e-8f, 2.98e-8f, 65504.0f, 65519.0f, 65520.0f, -1e6f,
                    1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, INFINITY, -INFINITY})
        x.push_back(v);
    std::uniform_real_distribution<float> mag(-30.0f, 17.0f);
    for (int i = 0; i < 2000; ++i)
        x.push_back(std::ldexp(1.0f + static_cast<float>(i % 7) / 7, static_cast<int>(mag(rng))));
    std::vector<uint16_t> want(x.size()), got(x.size());
    ref::quantize_row(dtype::f16, x.data(), want.data(), static_cast<int64_t>(x.size()));
    for (cpu_level l : levels()) {
        cpu_level_set(l);
        quantize_row(dtype::f16, x.data(), got.data(), static_cast<int64_t>(x.size()));
        for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(got[i], want[i]) << cpu_level_name(l) << " x=" << x[i];
    }
}

TEST(Simd, MatmulMatchesReference) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    for (cpu_level l : levels()) {
        cpu_level_set(l);
        for (dtype t : k_types) {
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            const int64_t blk = block_of(t);
            const int64_t n_in_a = blk == 1 ? 100 : blk * (96 / blk | 1),
                          n_in_b = blk == 1 ? 544 : blk * (544 / blk | 1);
            error_stats stats;
            for (int64_t n_rows = 1; n_rows <= 17; ++n_rows) {
                SCOPED_TRACE("n_rows=" + std::to_string(n_rows));
                check_matmul(t, 19, n_in_a, n_rows, pool, rng, stats);
            }
            for (int64_t n_rows : {int64_t{1}, int64_t{4}, int64_t{9}, int64_t{32}, int64_t{33}, int64_t{70}}) {
                SCOPED_TRACE("n_rows=" + std::to_string(n_rows));
                check_matmul(t, 67, n_in_b, n_rows, pool, rng, stats);
            }
            // Pooled over these 329 rows, over 60 seeds: mean 0.97, max 1.22.
            if (matmul_act_block(t) > 0) {
                EXPECT_LE(stats.mean_ratio(), 2.0) << "mean err^2 / rounding variance";
            } else {
                EXPECT_LE(stats.nmse(), 1e-10);
            }
        }
    }
}

// Activations already on the int8 grid (each 32-block: one code of 127 and the rest integers, times a
// scale per matmul_act_block elements) quantize exactly, so the int8 path must equal the exact reference up to float
// rounding: this checks the kernels' decoding, scales and mins, not the activation rounding.
TEST(Simd, MatmulExactOnTheInt8Grid) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    for (cpu_level l : levels()) {
        cpu_level_set(l);
        for (dtype t : k_types) {
            if (!int8_path(t)) continue;
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            const int64_t n_out = 37, n_in = 768, n_rows = 6;
            const std::vector<uint8_t> w = random_weights(t, n_out, n_in, rng);
            const std::vector<float> x =
                test::grid_acts(n_rows * n_in, std::max<int64_t>(matmul_act_block(t), 32), rng);
            std::vector<float> y(static_cast<size_t>(n_rows * n_out)), want(y.size());
            ref::matmul(t, w.data(), n_out, n_in, x.data(), n_rows, want.data());
            matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool);
            double err2 = 0, ref2 = 0;
            for (size_t i = 0; i < y.size(); ++i) {
                err2 += (static_cast<double>(y[i]) - want[i]) * (static_cast<double>(y[i]) - want[i]);
                ref2 += static_cast<double>(want[i]) * want[i];
            }
            EXPECT_LE(err2 / ref2, 1e-11) << "NMSE " << err2 / ref2;
        }
    }
}

TEST(Simd, MatmulQuantizedNmseOnLargeShape) {
    // A realistic shape where the NMSE target (~1e-4 of exact math) must hold for the int8 path.
    test::seeded_rng rng;
    thread_pool pool(2);
    for (dtype t :
         {dtype::q8_0,   dtype::q4_0,  dtype::q4_1,    dtype::q5_0,   dtype::q5_1,   dtype::q4_k,  dtype::q5_k,
          dtype::q6_k,   dtype::q2_k,  dtype::q3_k,    dtype::iq4_nl, dtype::iq4_xs, dtype::mxfp4, dtype::iq2_xxs,
          dtype::iq2_xs, dtype::iq2_s, dtype::iq3_xxs, dtype::iq3_s,  dtype::iq1_s,  dtype::iq1_m}) {
        SCOPED_TRACE(std::string(dtype_info_of(t).name));
        error_stats stats;
        check_matmul(t, 64, 2048, 16, pool, rng, stats, /*outliers=*/false);
        // Over 400 seeds at AVX-512: mean err^2 / rounding variance at most 1.65 (q4_K), NMSE at most
        // 9.1e-5 (q5_K, one activation scale per 256 elements).
        EXPECT_LE(stats.mean_ratio(), 3.0) << "mean err^2 / rounding variance";
        EXPECT_LE(stats.nmse(), 3e-4);
        std::printf("  %s NMSE %.2e, err^2 / rounding variance %.2f\n", std::string(dtype_info_of(t).name).c_str(),
                    stats.nmse(), stats.mean_ratio());
    }
}

// MXFP4's E8M0 scales over the exponents a finite weight can have, the subnormal 2^-128 and 2^-127
// (e = 0, 1) included, which random_weights' narrow range never draws: row e has every block at e.
TEST(Simd, Mxfp4EveryExponent) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    const int64_t n_out = 248, n_in = 64, n_rows = 2;  // e up to 247: 12 * 2^(247 - 128) stays finite
    std::vector<uint8_t> w = random_weights(dtype::mxfp4, n_out, n_in, rng);
    const size_t row_bytes = dtype_row_bytes(dtype::mxfp4, n_in);
    for (int64_t o = 0; o < n_out; ++o)
        for (size_t b = 0; b < row_bytes; b += sizeof(block_mxfp4))
            w[static_cast<size_t>(o) * row_bytes + b] = static_cast<uint8_t>(o);
    const std::vector<float> x = random_acts(n_rows * n_in, rng, false);
    std::vector<float> wf(static_cast<size_t>(n_out * n_in)), want(static_cast<size_t>(n_rows * n_out));
    for (int64_t o = 0; o < n_out; ++o)
        ref::dequantize_row(dtype::mxfp4, &w[static_cast<size_t>(o) * row_bytes], &wf[static_cast<size_t>(o * n_in)],
                            n_in);
    ref::matmul(dtype::mxfp4, w.data(), n_out, n_in, x.data(), n_rows, want.data());
    for (cpu_level l : levels()) {
        cpu_level_set(l);
        SCOPED_TRACE(cpu_level_name(l));
        std::vector<float> y(want.size());
        matmul(dtype::mxfp4, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool);
        for (int64_t r = 0; r < n_rows; ++r) {
            for (int64_t o = 0; o < n_out; ++o) {
                double mag = 0;  // the int8 activations' rounding is at most ~1% of sum |w x|
                for (int64_t i = 0; i < n_in; ++i)
                    mag += std::fabs(static_cast<double>(wf[static_cast<size_t>(o * n_in + i)]) *
                                     x[static_cast<size_t>(r * n_in + i)]);
                const size_t k = static_cast<size_t>(r * n_out + o);
                ASSERT_LE(std::fabs(static_cast<double>(y[k]) - want[k]), 0.02 * mag)
                    << "e = " << o << ", row " << r << " y " << y[k] << " want " << want[k];
            }
        }
    }
}

TEST(Dispatch, LevelsAndOverride) {
    level_guard guard;
    EXPECT_LE(cpu_level_active(), cpu_level_detect());
    cpu_level_set(cpu_level::scalar);
    EXPECT_EQ(cpu_level_active(), cpu_level::scalar);
    if (cpu_level_detect() < cpu_level::avx512) {
        EXPECT_THROW(cpu_level_set(cpu_level::avx512), error);
    }
    EXPECT_STREQ(cpu_level_name(cpu_level::avx2), "avx2");
}

}  // namespace
}  // namespace tandem
