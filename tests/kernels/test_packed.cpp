// Packed weights (kernels/pack.h): the packed matmul against the exact reference on the original
// bytes, batch invariance of the packed path, the packing split into ranges, and a level without a
// packed kernel reading the original.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/matmul.h"
#include "kernels/pack.h"
#include "kernels/ref/ref.h"
#include "kernels/thread_pool.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

using test::level_guard;

constexpr dtype k_packable[] = {dtype::q8_0, dtype::q4_0, dtype::q2_k, dtype::q3_k, dtype::q4_k,
                                dtype::q5_k, dtype::q6_k, dtype::f16,  dtype::bf16, dtype::f32};

bool is_float(dtype t) {
    return dtype_info_of(t).block_elems == 1;
}

std::vector<uint8_t> packed_copy(dtype t, const std::vector<uint8_t>& w, int64_t n_out, int64_t n_in) {
    std::vector<uint8_t> p(pack_bytes(t, n_out, n_in));
    pack_weight(t, w.data(), n_in, 0, n_out, p.data());
    return p;
}

// The levels of this CPU whose matmul reads packed weights of type t.
std::vector<cpu_level> packing_levels(dtype t) {
    std::vector<cpu_level> v;
    level_guard guard;
    for (cpu_level l : test::levels()) {
        cpu_level_set(l);
        if (matmul_packs(t, 8, 256)) v.push_back(l);
    }
    return v;
}

// An odd number of blocks of t: n32 elements for the 32-element types, 256 * k256 for the K-quants.
int64_t odd_n_in(dtype t, int64_t n32, int64_t k256) {
    return dtype_info_of(t).block_elems <= 32 ? n32 : 256 * k256;
}

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        err2 += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
        ref2 += static_cast<double>(want[i]) * want[i];
    }
    return err2 / ref2;
}

TEST(Packed, AvailableWhereTheIsaHasAKernel) {
    // The AVX2 kernel exists on every x86-64 CPU with AVX2: the packed path must be tested there.
    if (cpu_level_detect() >= cpu_level::avx2) {
        for (dtype t : k_packable) EXPECT_FALSE(packing_levels(t).empty()) << dtype_info_of(t).name;
    }
    level_guard guard;
    cpu_level_set(cpu_level::scalar);
    EXPECT_FALSE(matmul_packs(dtype::q8_0, 64, 64));
    if (cpu_level_detect() >= cpu_level::avx2) {
        cpu_level_set(cpu_level::avx2);
        EXPECT_TRUE(matmul_packs(dtype::q4_0, 64, 64));
        EXPECT_FALSE(matmul_packs(dtype::q4_0, 60, 64)) << "rows not a multiple of 8";
        EXPECT_FALSE(matmul_packs(dtype::iq4_xs, 64, 256)) << "no packed layout";
    }
}

// Activations on the int8 grid quantize exactly, so the packed path equals the exact reference up to
// float rounding: a code, scale or offset read from the wrong place of the layout fails this.
TEST(Packed, ExactOnTheInt8Grid) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    for (dtype t : k_packable) {
        if (is_float(t)) continue;  // no activation quantization: NearTheReference bounds them at 1e-10
        for (cpu_level l : packing_levels(t)) {
            cpu_level_set(l);
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            // 512 outputs: a thread's chunk holds enough groups of 8 rows for the 1- and 2-row tiles
            // to read several weight streams at once (matmul_groups); 48 outputs: a chunk too short for it.
            const int64_t n_in = odd_n_in(t, 800, 5);
            for (int64_t n_out : {48, 512}) {
                const std::vector<uint8_t> w = test::random_weights(t, n_out, n_in, rng);
                const std::vector<uint8_t> p = packed_copy(t, w, n_out, n_in);
                for (int64_t n_rows : {1, 2, 6}) {
                    const std::vector<float> x = test::grid_acts(n_rows * n_in, matmul_act_block(t, true), rng);
                    std::vector<float> y(static_cast<size_t>(n_rows * n_out)), want(y.size());
                    ref::matmul(t, w.data(), n_out, n_in, x.data(), n_rows, want.data());
                    matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool, p.data());
                    EXPECT_LE(nmse(y, want), 1e-11) << n_out << " outputs, " << n_rows << " rows";
                }
            }
        }
    }
}

// The highest level up to l whose unpacked matmul quantizes activations for t as the packed one does
// at l (a level that borrows a lower level's packed kernel takes that level's encoding).
cpu_level unpacked_peer(dtype t, cpu_level l) {
    level_guard guard;
    cpu_level_set(l);
    const int64_t block = matmul_act_block(t, true);
    for (cpu_level m = l;; m = static_cast<cpu_level>(static_cast<int>(m) - 1)) {
        cpu_level_set(m);
        if (matmul_act_block(t) == block || m == cpu_level::scalar) return m;
    }
}

// Real-valued activations: the error is the activations' 8-bit rounding, as on the unpacked path
// that encodes them the same way.
TEST(Packed, NearTheReferenceAsTheUnpackedPath) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    for (dtype t : k_packable) {
        for (cpu_level l : packing_levels(t)) {
            cpu_level_set(l);
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            const int64_t n_out = 64, n_in = 2048;
            const std::vector<uint8_t> w = test::random_weights(t, n_out, n_in, rng);
            const std::vector<uint8_t> p = packed_copy(t, w, n_out, n_in);
            // 17 and 40 rows: enough activations that the threads split their arrangement (float types);
            // 260 rows: a prompt, whose f16 / bf16 weights are widened to f32 before the tiles read them
            std::vector<int64_t> row_counts = {1, 3, 4, 9, 17, 40};
            if (is_float(t)) row_counts.push_back(260);
            for (int64_t n_rows : row_counts) {
                const std::vector<float> x = test::random_acts(n_rows * n_in, rng, false);
                std::vector<float> y(static_cast<size_t>(n_rows * n_out)), plain(y.size()), want(y.size());
                ref::matmul(t, w.data(), n_out, n_in, x.data(), n_rows, want.data());
                matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool, p.data());
                cpu_level_set(unpacked_peer(t, l));
                matmul(t, w.data(), n_out, n_in, x.data(), n_rows, plain.data(), pool);
                cpu_level_set(l);
                const double packed_err = nmse(y, want), plain_err = nmse(plain, want);
                EXPECT_LE(packed_err, is_float(t) ? 1e-10 : 5e-4) << "rows " << n_rows;
                EXPECT_LE(packed_err, 2 * plain_err + 1e-7) << "rows " << n_rows << " unpacked NMSE " << plain_err;
            }
        }
    }
}

// For type t at every level that packs it, in every pool: each run of n rows (n in counts; from row 0,
// from row mid and the last n) equals, bit for bit, those rows of one call over all n_rows.
void expect_batch_invariant(dtype t, int64_t n_out, int64_t n_rows, std::initializer_list<thread_pool*> pools,
                            std::initializer_list<int64_t> counts, int64_t mid, test::seeded_rng& rng) {
    const int64_t n_in = odd_n_in(t, 544, 3);
    for (cpu_level l : packing_levels(t)) {
        cpu_level_set(l);
        SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
        const std::vector<uint8_t> w = test::random_weights(t, n_out, n_in, rng);
        const std::vector<uint8_t> p = packed_copy(t, w, n_out, n_in);
        const std::vector<float> x = test::random_acts(n_rows * n_in, rng);
        for (thread_pool* pool : pools) {
            std::vector<float> all(static_cast<size_t>(n_rows * n_out));
            matmul(t, w.data(), n_out, n_in, x.data(), n_rows, all.data(), *pool, p.data());
            for (int64_t n : counts) {
                for (int64_t off : {int64_t{0}, mid, n_rows - n}) {
                    std::vector<float> y(static_cast<size_t>(n * n_out));
                    matmul(t, w.data(), n_out, n_in, x.data() + off * n_in, n, y.data(), *pool, p.data());
                    EXPECT_EQ(std::memcmp(y.data(), all.data() + off * n_out, y.size() * sizeof(float)), 0)
                        << n << " rows from " << off << ", " << pool->size() << " threads";
                }
            }
        }
    }
}

TEST(Packed, BatchInvariant) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool one(1), two(2), three(3);
    // 33 groups of 8 outputs: 1-2 rows read them in several streams (matmul_groups), also in 2-3 threads
    for (dtype t : k_packable)
        expect_batch_invariant(t, 264, 38, {&one, &two, &three}, {1, 2, 3, 4, 5, 16, 33}, 1, rng);
}

// A prompt of 256 rows or more reads f16 / bf16 weights widened to f32 a block at a time
// (matmul_packed_avx2.cpp): every row must still equal the same row computed alone or in a few rows,
// which read the weights as stored.
TEST(Packed, WidenedFloatPromptsAreBatchInvariant) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool one(1), two(2);
    // 33 groups: the last runs in a 1-group tile
    for (dtype t : {dtype::f16, dtype::bf16}) expect_batch_invariant(t, 264, 300, {&one, &two}, {1, 5}, 137, rng);
}

TEST(Packed, RangesPackTheSameAsOnePass) {
    test::seeded_rng rng;
    for (dtype t : k_packable) {
        const int64_t n_out = 40, n_in = odd_n_in(t, 96, 1);
        const std::vector<uint8_t> w = test::random_weights(t, n_out, n_in, rng);
        const std::vector<uint8_t> whole = packed_copy(t, w, n_out, n_in);
        std::vector<uint8_t> parts(whole.size());
        pack_weight(t, w.data(), n_in, 16, 40, parts.data());
        pack_weight(t, w.data(), n_in, 0, 16, parts.data());
        EXPECT_EQ(parts, whole) << dtype_info_of(t).name;
        EXPECT_NE(whole, w) << "packing moved nothing";
    }
}

// A level without a packed kernel (set after packing) reads the original bytes: the same bits as
// the unpacked call there.
TEST(Packed, LevelWithoutAPackedKernelReadsTheOriginal) {
    test::seeded_rng rng;
    level_guard guard;
    thread_pool pool(2);
    for (dtype t : k_packable) {
        const int64_t n_out = 16, n_in = odd_n_in(t, 128, 1), n_rows = 3;
        const std::vector<uint8_t> w = test::random_weights(t, n_out, n_in, rng);
        const std::vector<uint8_t> p = packed_copy(t, w, n_out, n_in);
        const std::vector<float> x = test::random_acts(n_rows * n_in, rng);
        cpu_level_set(cpu_level::scalar);
        std::vector<float> y(static_cast<size_t>(n_rows * n_out)), plain(y.size());
        matmul(t, w.data(), n_out, n_in, x.data(), n_rows, y.data(), pool, p.data());
        matmul(t, w.data(), n_out, n_in, x.data(), n_rows, plain.data(), pool);
        EXPECT_EQ(y, plain) << dtype_info_of(t).name;
    }
}

}  // namespace
}  // namespace tandem
