// Batch invariance of matmul: output row r must be bitwise the same whether its activation row runs
// alone or inside a batch of any size, whatever the other rows hold and however many threads split
// the work, for every computable weight type at every SIMD level this CPU has.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "tests/kernels/random_inputs.h"

namespace tandem {
namespace {

using test::level_guard;

constexpr int64_t k_rows = 70;
constexpr int64_t k_out = 37;  // not a multiple of any thread chunk or kernel tile

std::vector<dtype> computable_types() {
    std::vector<dtype> v;
    for (uint32_t id = 0; id < 64; ++id) {
        const auto info = dtype_lookup(id);
        if (info && info->computable) v.push_back(static_cast<dtype>(id));
    }
    return v;
}

// Rows [off, off + n) of the batch, run as a batch of their own; then the same rows inside a full batch
// whose other rows are fresh random data. Both must equal `all` bit for bit.
void check_subsets(dtype t, const std::vector<uint8_t>& w, int64_t n_in, const std::vector<float>& x,
                   const std::vector<float>& all, thread_pool& pool, std::mt19937& rng) {
    for (int64_t n : {1, 2, 5, 16, 33, 70}) {
        for (int64_t off : {int64_t{0}, int64_t{3}, k_rows - n}) {
            if (off + n > k_rows) continue;
            SCOPED_TRACE("rows " + std::to_string(off) + "+" + std::to_string(n) + ", threads " +
                         std::to_string(pool.size()));
            std::vector<float> y(static_cast<size_t>(n * k_out), -1.0f);
            matmul(t, w.data(), k_out, n_in, x.data() + off * n_in, n, y.data(), pool);
            EXPECT_EQ(std::memcmp(y.data(), all.data() + off * k_out, y.size() * sizeof(float)), 0) << "alone";
            std::vector<float> mixed = test::random_acts(k_rows * n_in, rng, false);
            std::copy(x.begin() + off * n_in, x.begin() + (off + n) * n_in, mixed.begin() + off * n_in);
            std::vector<float> ym(static_cast<size_t>(k_rows * k_out), -1.0f);
            matmul(t, w.data(), k_out, n_in, mixed.data(), k_rows, ym.data(), pool);
            EXPECT_EQ(std::memcmp(ym.data() + off * k_out, all.data() + off * k_out, y.size() * sizeof(float)), 0)
                << "among other rows";
        }
    }
}

TEST(BatchInvariance, RowResultsIndependentOfBatchAndThreads) {
    std::mt19937 rng(1234);
    level_guard guard;
    thread_pool one(1), two(2), three(3);
    for (cpu_level l : {cpu_level::scalar, cpu_level::avx2, cpu_level::avx512}) {
        if (l > cpu_level_detect()) continue;
        cpu_level_set(l);
        for (dtype t : computable_types()) {
            SCOPED_TRACE(std::string(cpu_level_name(l)) + " " + std::string(dtype_info_of(t).name));
            const int64_t block = dtype_info_of(t).block_elems;
            // An odd number of blocks (544 = 17 x 32 for the 32-element types); for the plain types 300:
            // more than one k-chunk of the float kernels' blocked path, and a tail of 4.
            const int64_t n_in = block == 1 ? 300 : (block == 32 ? 544 : block * (block >= 256 ? 3 : 5));
            const std::vector<uint8_t> w = test::random_weights(t, k_out, n_in, rng);
            const std::vector<float> x = test::random_acts(k_rows * n_in, rng, false);
            std::vector<float> all(static_cast<size_t>(k_rows * k_out), -1.0f);
            matmul(t, w.data(), k_out, n_in, x.data(), k_rows, all.data(), one);
            for (thread_pool* pool : {&one, &two, &three}) check_subsets(t, w, n_in, x, all, *pool, rng);
        }
    }
}

}  // namespace
}  // namespace tandem
