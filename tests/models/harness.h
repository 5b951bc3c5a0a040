// Test harness for model forwards without the engine: a plain KV pool per group, block tables
// that can be scattered through the pool, and golden-file readers.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "models/cpu_backend.h"
#include "models/gguf/gguf.h"
#include "models/model.h"
#include "models/vulkan_backend.h"

namespace tandem::test {

inline std::string shared_path(const std::string& rel) {
    const std::string p = std::string(TANDEM_SHARED_DIR) + "/" + rel;
    if (!std::filesystem::exists(p))
        ADD_FAILURE() << "shared file missing: " << p << " (tests need ../shared beside the checkout)";
    return p;
}

inline nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path);
    return nlohmann::json::parse(in);
}

inline std::vector<float> read_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    in.seekg(0, std::ios::end);
    const auto n = static_cast<size_t>(in.tellg()) / 4;
    in.seekg(0);
    std::vector<float> v(n);
    in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * 4));
    return v;
}

struct error_stats {
    double max_abs = 0, nmse = 0;
};

inline error_stats compare(const float* x, const float* ref, size_t n) {
    double num = 0, den = 0, mx = 0;
    for (size_t i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - ref[i];
        num += d * d;
        den += static_cast<double>(ref[i]) * ref[i];
        mx = std::max(mx, std::abs(d));
    }
    return {mx, den > 0 ? num / den : num};
}

inline int32_t argmax(const float* x, int64_t n) {
    return static_cast<int32_t>(std::max_element(x, x + n) - x);
}

// The device the model tests run on: the CPU, or the Vulkan device TANDEM_TEST_DEVICE names
// (`vulkan`: the machine's first, lavapipe in CI; or `vulkan:N`). ctest runs the golden and
// batch-invariance executables a second time with it set (label vulkan).
inline const char* test_device_spec() {
    const char* spec = std::getenv("TANDEM_TEST_DEVICE");
    return spec && *spec && std::string(spec) != "cpu" ? spec : nullptr;
}
inline bool test_on_vulkan() {
    return test_device_spec() != nullptr;
}
inline std::shared_ptr<vulkan_device> test_vulkan_device() {
    static std::shared_ptr<vulkan_device> dev = [] {
        const std::string spec = test_device_spec();
        const std::vector<vk::device_info> all = vk::list_devices();
        if (all.empty()) throw std::runtime_error("no Vulkan device on this machine (install mesa-vulkan-drivers)");
        return std::make_shared<vulkan_device>(spec == "vulkan" ? all.front() : vk::pick_device(spec));
    }();
    return dev;
}

// A model with its file, backend and a KV pool big enough for a few sequences.
struct model_rig {
    std::unique_ptr<gguf::file> file;
    std::unique_ptr<thread_pool> pool;
    std::unique_ptr<backend> be;
    std::unique_ptr<model> m;
    int32_t block_size = 16;
    int32_t n_blocks = 0;
    std::vector<int32_t> free_blocks;

    model_rig(const std::string& path, dtype kv_type = dtype::f16, int32_t n_blocks_ = 256, int n_threads = 2,
              uint32_t scatter_seed = 0) {
        n_blocks = n_blocks_;
        file = gguf::file::open(path);
        pool = std::make_unique<thread_pool>(n_threads);
        if (test_on_vulkan())
            be = std::make_unique<vulkan_backend>(test_vulkan_device());
        else
            be = std::make_unique<cpu_backend>(*pool);
        m = model_load(*file, *be);
        be->alloc_kv(m->kv_groups(), kv_type, block_size, n_blocks);
        free_blocks.resize(n_blocks);
        std::iota(free_blocks.begin(), free_blocks.end(), 0);
        if (scatter_seed) std::shuffle(free_blocks.begin(), free_blocks.end(), std::mt19937(scatter_seed));
        std::reverse(free_blocks.begin(), free_blocks.end());
    }

    // Blocks for a sequence of up to n tokens (same table for every group: each group has its own pool).
    std::vector<int32_t> take_blocks(int64_t n_tokens) {
        std::vector<int32_t> t;
        for (int64_t i = 0; i < (n_tokens + block_size - 1) / block_size; ++i) {
            t.push_back(free_blocks.back());
            free_blocks.pop_back();
        }
        return t;
    }

    int32_t n_vocab() const { return m->info().n_vocab; }
};

// One sequence's state in a harness run: its tokens so far and its block table.
struct seq_state {
    std::vector<int32_t> table;
    int32_t n_past = 0;
};

// Runs `chunks` (one per sequence, any lengths) as one batch; returns logits of all rows, per sequence.
inline std::vector<std::vector<float>> run_batch(model_rig& rig, std::vector<seq_state*> seqs,
                                                 const std::vector<std::vector<int32_t>>& chunks,
                                                 bool all_rows = true) {
    batch b;
    std::vector<std::vector<int32_t>> rows(seqs.size());
    int64_t n_rows = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
        const int64_t n = static_cast<int64_t>(chunks[s].size());
        for (int64_t r = all_rows ? 0 : n - 1; r < n; ++r) rows[s].push_back(static_cast<int32_t>(r));
        n_rows += static_cast<int64_t>(rows[s].size());
    }
    for (size_t s = 0; s < seqs.size(); ++s) {
        batch_seq bs;
        bs.tokens = chunks[s];
        bs.pos0 = seqs[s]->n_past;
        for (int g = 0; g < k_max_kv_groups; ++g) bs.block_table[g] = seqs[s]->table;
        bs.logit_rows = rows[s];
        b.seqs.push_back(bs);
    }
    std::vector<float> logits(static_cast<size_t>(n_rows) * rig.n_vocab());
    rig.m->forward(*rig.be, b, {logits, {}});
    std::vector<std::vector<float>> out;
    size_t off = 0;
    for (size_t s = 0; s < seqs.size(); ++s) {
        const size_t n = rows[s].size() * static_cast<size_t>(rig.n_vocab());
        out.emplace_back(logits.begin() + static_cast<std::ptrdiff_t>(off),
                         logits.begin() + static_cast<std::ptrdiff_t>(off + n));
        off += n;
        seqs[s]->n_past += static_cast<int32_t>(chunks[s].size());
    }
    return out;
}

}  // namespace tandem::test
