// The Vulkan tests' device: TANDEM_TEST_VK_DEVICE (vulkan:N), else the first device of any type
// (lavapipe in CI), opened once per suite; without a device every test fails with one message. And
// bench_rig, host-visible buffers with pipelines and a recorder, for the shader tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/error.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"

namespace tandem::vk {

// The device the tests run on: TANDEM_TEST_VK_DEVICE (vulkan:N), else the first device of any type.
inline device_info test_device() {
    std::vector<device_info> all;
    try {
        all = list_devices();
    } catch (const error& e) {
        ADD_FAILURE() << "no Vulkan loader or driver on this machine (install mesa-vulkan-drivers): " << e.what();
        throw;
    }
    if (all.empty()) {
        ADD_FAILURE() << "no Vulkan 1.2 device on this machine (install mesa-vulkan-drivers for lavapipe)";
        throw error("no device");
    }
    if (const char* spec = std::getenv("TANDEM_TEST_VK_DEVICE")) return pick_device(spec);
    return all.front();
}

struct VulkanRuntime : ::testing::Test {
    static void SetUpTestSuite() {
        try {
            ctx = std::make_unique<context>(test_device()).release();
        } catch (const error&) {
        }
    }
    static void TearDownTestSuite() {
        delete ctx;
        ctx = nullptr;
    }
    void SetUp() override {
        if (!ctx) GTEST_FAIL() << "the Vulkan device could not be opened (see the first failure)";
    }
    static context* ctx;
};
inline context* VulkanRuntime::ctx = nullptr;

// Host-visible slices the shaders read and write directly (lavapipe's memory is host-visible; on a
// GPU this is slower but still correct), one recorder and the pipelines.
struct bench_rig {
    pipelines pl;
    allocator mem;
    recorder rec;
    ops op;
    std::vector<slice> held;
    explicit bench_rig(context& ctx) : pl(ctx), mem(ctx, memory_kind::host), rec(ctx), op(pl, rec) {
        op.set_codebooks(upload(codebook_words()));
    }
    ~bench_rig() {
        for (const slice& s : held) mem.free(s);
    }
    template <class T>
    slice upload(const std::vector<T>& v) {
        const slice s = mem.alloc(v.size() * sizeof(T));
        std::memcpy(s.mapped, v.data(), v.size() * sizeof(T));
        held.push_back(s);
        return s;
    }
    std::vector<float> read(const slice& s, size_t n) const {
        std::vector<float> out(n);
        std::memcpy(out.data(), s.mapped, n * sizeof(float));
        return out;
    }
};

}  // namespace tandem::vk
