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

namespace tandem {
namespace {

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

void put_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_fp16(v);
    std::memcpy(p, &h, 2);
}

// Random codes with finite, sane scales (so that no NaN could hide a difference).
std::vector<uint8_t> random_weights(dtype t, int64_t n_in, std::mt19937& rng) {
    const dtype_info& info = dtype_info_of(t);
    std::vector<uint8_t> w(dtype_row_bytes(t, n_in) * static_cast<size_t>(k_out));
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::uniform_real_distribution<float> u(0.5f, 2.0f);
    const size_t n_blocks = w.size() / info.block_bytes;
    for (size_t i = 0; i < n_blocks; ++i) {
        uint8_t* b = &w[i * info.block_bytes];
        if (t == dtype::f32) {
            const float v = nd(rng);
            std::memcpy(b, &v, 4);
            continue;
        }
        if (t == dtype::f16 || t == dtype::bf16) {
            const float v = nd(rng);
            const uint16_t h = t == dtype::f16 ? f32_to_fp16(v) : f32_to_bf16(v);
            std::memcpy(b, &h, 2);
            continue;
        }
        for (size_t j = 0; j < info.block_bytes; ++j) b[j] = static_cast<uint8_t>(rng());
        const float d = u(rng) * 0.01f;
        switch (t) {
            case dtype::q4_1:
            case dtype::q5_1:
                put_f16(b, d);
                put_f16(b + 2, -u(rng) * 0.1f);
                break;
            case dtype::q4_k:
            case dtype::q5_k:
                put_f16(b, d * 0.1f);
                put_f16(b + 2, d * 0.05f);
                break;
            case dtype::q6_k:
                put_f16(b + 208, d * 0.05f);
                break;
            default:
                put_f16(b, d);
                break;
        }
    }
    return w;
}

std::vector<float> random_acts(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = nd(rng);
    return x;
}

struct level_guard {
    ~level_guard() { cpu_level_set(cpu_level_detect()); }
};

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
            std::vector<float> mixed = random_acts(k_rows * n_in, rng);
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
            const int64_t n_in = block == 256 ? 768 : (block == 1 ? 100 : 544);
            const std::vector<uint8_t> w = random_weights(t, n_in, rng);
            const std::vector<float> x = random_acts(k_rows * n_in, rng);
            std::vector<float> all(static_cast<size_t>(k_rows * k_out), -1.0f);
            matmul(t, w.data(), k_out, n_in, x.data(), k_rows, all.data(), one);
            for (thread_pool* pool : {&one, &two, &three}) check_subsets(t, w, n_in, x, all, *pool, rng);
        }
    }
}

}  // namespace
}  // namespace tandem
