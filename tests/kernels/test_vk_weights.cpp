// Every computable weight type on the device (kernels/vulkan/vk_weights.h, decoded in the shaders by
// shaders/weights.glsl): the matmul and embedding shaders against kernels/ref's decoder on random
// blocks (every code bit random, scales sane), rows whose units leave a tail past the workgroup, an
// odd row count, 1, 3, 8, 9 and 40 input rows (40: the tiled shader), under both lane reductions, and
// each tensor split into two parts at a row whose bytes do not start on a word, as the backend splits
// a tensor past the device's buffer range. Rows are bitwise the same alone or batched.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/ref.h"
#include "kernels/vulkan/vk_weights.h"
#include "tests/kernels/random_inputs.h"
#include "tests/kernels/vk_fixture.h"

namespace tandem::vk {
namespace {

std::vector<dtype> computable_types() {
    std::vector<dtype> v;
    for (uint32_t id = 0; id < 64; ++id) {
        const std::optional<dtype_info> info = dtype_lookup(id);
        if (info && info->computable) v.push_back(static_cast<dtype>(id));
    }
    return v;
}

// About 1200 elements: an odd number of blocks, so the units (16 elements for a block type) leave a
// tail past the 64 invocations of a matmul workgroup; plain types take an even length (f16 and bf16
// rows of an odd length take the f32 path, tested on its own).
uint32_t row_length(dtype t) {
    const auto be = static_cast<uint32_t>(dtype_info_of(t).block_elems);
    if (be == 1) return 1186;
    const uint32_t k = 1200 / be;
    return be * (k % 2 == 1 ? k : k + 1);
}

std::vector<float> uniforms(size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

// A random (n_out, n_in) weight of type t, the rows kernels/ref decodes it to, and its upload in two
// parts, rows [0, split) and [split, n_out), each repacked on its own as the backend does.
struct split_weight {
    struct part {
        slice s;
        uint32_t row0, rows;
    };
    std::vector<float> decoded;
    weight_format format;
    std::vector<part> parts;

    split_weight(bench_rig& r, dtype t, uint32_t n_out, uint32_t n_in, uint32_t split, std::mt19937& rng) {
        const std::vector<uint8_t> bytes = test::random_weights(t, n_out, n_in, rng);
        const size_t row_bytes = dtype_row_bytes(t, n_in);
        decoded.resize(size_t{n_out} * n_in);
        for (uint32_t o = 0; o < n_out; ++o)
            ref::dequantize_row(t, bytes.data() + o * row_bytes, decoded.data() + size_t{o} * n_in, n_in);
        format = format_for(t, n_in);
        for (const auto& [row0, rows] : {std::pair{0u, split}, std::pair{split, n_out - split}}) {
            const std::vector<uint32_t> words = repack_rows(t, bytes.data(), n_in, row0, rows);
            EXPECT_EQ(words.size(), part_words(t, rows, n_in));
            parts.push_back({r.upload(words), row0, rows});
        }
    }
};

struct type_case {
    dtype t;
    uint32_t n_in;
};

std::vector<type_case> cases() {
    std::vector<type_case> v;
    for (dtype t : computable_types()) v.push_back({t, row_length(t)});
    v.push_back({dtype::f16, 77});
    v.push_back({dtype::bf16, 77});
    return v;
}

std::string name_of(const type_case& c) {
    return std::string(dtype_info_of(c.t).name) + " n_in " + std::to_string(c.n_in);
}

// Block types keep the file's bytes on the device (plus at most 3 bytes and a padding word per part):
// no type but f16 / bf16 rows of an odd length is widened at upload.
TEST(VulkanWeights, DeviceBytesEqualTheFileBytes) {
    for (const type_case& c : cases()) {
        SCOPED_TRACE(name_of(c));
        const uint64_t file_bytes = dtype_row_bytes(c.t, c.n_in) * 1000;
        const uint64_t device_bytes = 4 * part_words(c.t, 1000, c.n_in);
        if (c.t == dtype::f32 || c.n_in % 2 == 1) {
            EXPECT_EQ(device_bytes, 4ull * 1000 * c.n_in);
        } else if (c.t == dtype::q8_0 || c.t == dtype::q4_0) {  // the scales as f32: 36/34, 20/18
            EXPECT_EQ(device_bytes, file_bytes + 2000 * c.n_in / 32);
        } else {
            EXPECT_LE(device_bytes, file_bytes + 8);
            EXPECT_GE(device_bytes, file_bytes);
        }
        // A part of rows_per_part rows fits the range it was computed for.
        const uint64_t range = 4 * part_words(c.t, 7, c.n_in);
        EXPECT_EQ(rows_per_part(c.t, c.n_in, range), 7);
        EXPECT_LE(4 * part_words(c.t, rows_per_part(c.t, c.n_in, range - 1), c.n_in), range - 1);
    }
}

// The matmul plans a test runs: the device's, and the shared-memory tree in its place when the
// device's plan adds the lanes with subgroupAdd (both paths stay covered on a device with subgroups).
std::vector<matmul_plan> plans(const ops& op) {
    std::vector<matmul_plan> v{op.plan()};
    if (op.plan().subgroup) {
        v.push_back(op.plan());
        v.back().subgroup = false;
    }
    return v;
}

std::string name_of(const matmul_plan& p) {
    return std::string(p.subgroup ? "subgroupAdd" : "shared tree") + ", " + std::to_string(p.outs) + " outputs of " +
           std::to_string(p.lanes) + " lanes, tiles of " + std::to_string(p.tile_rows) + " rows";
}

// y = x W^T for every type against the decoded weights in double precision. A decode error moves an
// output by at least one quantization step of one weight times its input, ~1e-4 of the magnitude
// bound used here (sum of |w x|); f32 rounding stays below 2e-6 of it. 1-9 rows take the 8-row
// shader, 40 rows the tiled one (a whole tile and a part).
TEST_F(VulkanRuntime, MatmulEveryWeightTypeMatchesTheReference) {
    bench_rig r(*ctx);
    test::seeded_rng rng;
    const uint32_t n_out = 13, split = 5;
    for (const matmul_plan& plan : plans(r.op)) {
        SCOPED_TRACE(name_of(plan));
        r.op.set_plan(plan);
        for (const type_case& c : cases()) {
            SCOPED_TRACE(name_of(c));
            const split_weight w(r, c.t, n_out, c.n_in, split, rng);
            for (const uint32_t rows : {1u, 3u, 8u, 9u, 40u}) {
                SCOPED_TRACE(std::to_string(rows) + " input rows");
                const uint32_t x_off = 3, x_stride = c.n_in + 4, y_off = 1, y_stride = n_out + 2;
                const std::vector<float> x = uniforms(x_off + size_t{x_stride} * rows, rng);
                const slice sx = r.upload(x), sy = r.upload(std::vector<float>(y_off + size_t{y_stride} * rows, -9.0f));
                r.rec.begin();
                for (const split_weight::part& p : w.parts)
                    r.op.matmul(w.format, p.s, {sx, x_off, rows, c.n_in, x_stride},
                                {sy, y_off + p.row0, rows, p.rows, y_stride});
                r.rec.submit_and_wait();
                const std::vector<float> y = r.read(sy, y_off + size_t{y_stride} * rows);
                for (uint32_t row = 0; row < rows; ++row) {
                    for (uint32_t o = 0; o < n_out; ++o) {
                        double want = 0, mag = 0;
                        for (uint32_t i = 0; i < c.n_in; ++i) {
                            const double p = double{w.decoded[size_t{o} * c.n_in + i]} * x[x_off + row * x_stride + i];
                            want += p, mag += std::fabs(p);
                        }
                        ASSERT_NEAR(y[y_off + row * y_stride + o], want, 2e-6 * mag + 1e-7)
                            << "row " << row << " out " << o;
                    }
                    ASSERT_EQ(y[y_off + row * y_stride + n_out], -9.0f) << "wrote past the row";
                }
            }
        }
    }
}

// Batch invariance: each of 40 rows through the tiled shader equals, bitwise, the same row alone
// through the 8-row shader, and the rows of a 5-row dispatch likewise (the models' batching test
// relies on it), for a plain, a repacked and two K-quant types, under each plan.
TEST_F(VulkanRuntime, MatmulRowsAreTheSameAloneOrBatched) {
    bench_rig r(*ctx);
    test::seeded_rng rng;
    const uint32_t n_out = 21, rows = 40;  // n_out rows of a weight of n_out + 3 (its first part)
    for (const matmul_plan& plan : plans(r.op)) {
        SCOPED_TRACE(name_of(plan));
        r.op.set_plan(plan);
        for (dtype t : {dtype::f32, dtype::q8_0, dtype::q4_k, dtype::q6_k}) {
            SCOPED_TRACE(dtype_info_of(t).name);
            const uint32_t n_in = row_length(t);
            const split_weight w(r, t, n_out + 3, n_in, n_out, rng);
            const slice sx = r.upload(uniforms(size_t{n_in} * rows, rng));
            const slice sy = r.upload(std::vector<float>(size_t{n_out} * rows, 0.0f));
            const slice s1 = r.upload(std::vector<float>(size_t{n_out} * rows, 0.0f));
            const slice s5 = r.upload(std::vector<float>(size_t{n_out} * rows, 0.0f));
            const slice& ws = w.parts[0].s;
            r.rec.begin();
            r.op.matmul(w.format, ws, {sx, 0, rows, n_in, n_in}, {sy, 0, rows, n_out, n_out});
            for (uint32_t row = 0; row < rows; ++row)
                r.op.matmul(w.format, ws, {sx, row * n_in, 1, n_in, n_in}, {s1, row * n_out, 1, n_out, n_out});
            for (uint32_t row = 0; row < rows; row += 5)
                r.op.matmul(w.format, ws, {sx, row * n_in, 5, n_in, n_in}, {s5, row * n_out, 5, n_out, n_out});
            r.rec.submit_and_wait();
            const std::vector<float> all = r.read(sy, size_t{n_out} * rows), one = r.read(s1, size_t{n_out} * rows),
                                     five = r.read(s5, size_t{n_out} * rows);
            for (size_t i = 0; i < all.size(); ++i) {
                ASSERT_EQ(all[i], one[i]) << "row " << i / n_out << " out " << i % n_out;
                ASSERT_EQ(five[i], one[i]) << "row " << i / n_out << " out " << i % n_out;
            }
        }
    }
}

// Rows by token id (both parts' rows, their boundary, repeats) equal the decoded rows, element by
// element: exactly but for the rounding of d * scale * q - dmin * min (a fused multiply-add).
TEST_F(VulkanRuntime, EmbedEveryWeightTypeMatchesTheReference) {
    bench_rig r(*ctx);
    test::seeded_rng rng;
    const uint32_t n_out = 13, split = 5;
    const std::vector<int32_t> tokens{12, 0, 4, 5, 12, 7};
    for (const type_case& c : cases()) {
        SCOPED_TRACE(name_of(c));
        const split_weight w(r, c.t, n_out, c.n_in, split, rng);
        const auto n_tok = static_cast<uint32_t>(tokens.size());
        const uint32_t stride = c.n_in + 3, off = 2;
        const slice st = r.upload(tokens), so = r.upload(std::vector<float>(off + size_t{stride} * n_tok, -9.0f));
        r.rec.begin();
        for (const split_weight::part& p : w.parts)
            r.op.embed(w.format, p.s, p.row0, p.rows, st, {so, off, n_tok, c.n_in, stride});
        r.rec.submit_and_wait();
        const std::vector<float> got = r.read(so, off + size_t{stride} * n_tok);
        for (uint32_t k = 0; k < n_tok; ++k) {
            const float* want = w.decoded.data() + static_cast<size_t>(tokens[k]) * c.n_in;
            float row_max = 0;
            for (uint32_t i = 0; i < c.n_in; ++i) row_max = std::max(row_max, std::fabs(want[i]));
            for (uint32_t i = 0; i < c.n_in; ++i)
                ASSERT_NEAR(got[off + k * stride + i], want[i], 1e-6f * row_max)
                    << "token " << tokens[k] << " element " << i;
            ASSERT_EQ(got[off + k * stride + c.n_in], -9.0f) << "wrote past the row";
        }
    }
}

}  // namespace
}  // namespace tandem::vk
