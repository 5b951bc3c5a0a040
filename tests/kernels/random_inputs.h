// Random inputs and dispatch-level helpers shared by the kernel tests: weight rows of any type with
// random codes and sane f16 scales, activations with outlier channels, a replayable seed.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/fp16.h"
#include "kernels/types.h"

namespace tandem::test {

// A fresh seed per run (printed by the tests on failure); TANDEM_TEST_SEED=<n> replays one.

inline uint32_t test_seed() {
    static const uint32_t seed = [] {
        const char* env = std::getenv("TANDEM_TEST_SEED");
        return env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
    }();
    return seed;
}

// A test's random engine, seeded from test_seed(); while it lives, every failure message names the seed.
struct seeded_rng : std::mt19937 {
    seeded_rng() : seeded_rng(test_seed()) {}
    explicit seeded_rng(uint32_t seed)
        : std::mt19937(seed), trace(__FILE__, __LINE__, "seed=" + std::to_string(seed)) {}
    ::testing::ScopedTrace trace;
};

inline void put_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_fp16(v);
    std::memcpy(p, &h, 2);
}

// n_rows rows of n elements of type t: random bits everywhere, then sane random f16 scales.
inline std::vector<uint8_t> random_weights(dtype t, int64_t n_rows, int64_t n, std::mt19937& rng) {
    const dtype_info& info = dtype_info_of(t);
    const size_t bytes = dtype_row_bytes(t, n) * static_cast<size_t>(n_rows);
    std::vector<uint8_t> w(bytes);
    std::uniform_real_distribution<float> u(0.5f, 2.0f);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    if (t == dtype::f32 || t == dtype::f16 || t == dtype::bf16) {
        for (size_t i = 0; i < bytes / info.block_bytes; ++i) {
            const float v = nd(rng);
            if (t == dtype::f32)
                std::memcpy(&w[4 * i], &v, 4);
            else {
                const uint16_t h = t == dtype::f16 ? f32_to_fp16(v) : f32_to_bf16(v);
                std::memcpy(&w[2 * i], &h, 2);
            }
        }
        return w;
    }
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
    const size_t n_blocks = bytes / info.block_bytes;
    for (size_t i = 0; i < n_blocks; ++i) {
        uint8_t* b = &w[i * info.block_bytes];
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
            case dtype::q2_k:
                put_f16(b + 80, d * 0.1f);
                put_f16(b + 82, d * 0.05f);
                break;
            case dtype::q3_k:
                put_f16(b + 108, d * 0.05f);
                break;
            case dtype::tq1_0:
                put_f16(b + 52, d);
                break;
            case dtype::tq2_0:
                put_f16(b + 64, d);
                break;
            case dtype::mxfp4:
                b[0] = static_cast<uint8_t>(118 + rng() % 8);  // scales 2^-10 .. 2^-3
                break;
            case dtype::iq1_m: {  // d's 4 nibbles are the top nibbles of the 16-bit scale words at 48
                const uint16_t h = f32_to_fp16(d);
                for (int k = 0; k < 4; ++k)
                    b[49 + 2 * k] = static_cast<uint8_t>((b[49 + 2 * k] & 0x0f) | ((h >> (4 * k)) & 0xf) << 4);
                break;
            }
            default:
                put_f16(b, d);
                break;
        }
    }
    return w;
}

inline std::vector<float> random_acts(int64_t n, std::mt19937& rng, bool outliers = true) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = nd(rng);
    if (outliers) {
        for (size_t i = 0; i < x.size(); i += 97) x[i] *= 20.0f;  // a few outlier channels, as in real LLMs
    }
    return x;
}

// n activations already on the int8 grid: in each 32-block one code of 127 and the rest integers in
// [-127, 127], times a scale shared by act_block elements (a multiple of 32), so they quantize exactly.
inline std::vector<float> grid_acts(int64_t n, int64_t act_block, std::mt19937& rng) {
    std::uniform_int_distribution<int> code(-127, 127);
    std::uniform_real_distribution<float> scale(0.001f, 0.05f);
    std::vector<float> x(static_cast<size_t>(n));
    const size_t blocks_per_scale = static_cast<size_t>(act_block / 32);
    float s = 0;
    for (size_t b = 0; b < x.size() / 32; ++b) {
        if (b % blocks_per_scale == 0) s = scale(rng);
        for (size_t i = 0; i < 32; ++i) x[32 * b + i] = s * static_cast<float>(i == b % 32 ? 127 : code(rng));
    }
    return x;
}

inline std::vector<cpu_level> levels() {
    std::vector<cpu_level> v;
    for (cpu_level l : {cpu_level::scalar, cpu_level::avx2, cpu_level::avx512}) {
        if (l <= cpu_level_detect()) v.push_back(l);
    }
    return v;
}

struct level_guard {
    cpu_level saved = cpu_level_active();
    ~level_guard() { cpu_level_set(saved); }
};

}  // namespace tandem::test
