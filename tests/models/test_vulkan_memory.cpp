// A model whose weights do not fit the Vulkan device's memory is a clear error at load, not a crash:
// TANDEM_VK_MEMORY_LIMIT_MIB (the allocator's test hook) makes a small device of lavapipe, and the
// error names the file, the tensor that did not fit and the limit; the backend gives back all it took.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/gguf/gguf.h"
#include "models/kv_pool.h"
#include "models/model.h"
#include "models/vulkan_backend.h"

namespace tandem {
namespace {

vk::device_info test_device() {
    const std::vector<vk::device_info> all = vk::list_devices();
    if (all.empty()) throw error("no Vulkan device on this machine (install mesa-vulkan-drivers)");
    const char* spec = std::getenv("TANDEM_TEST_VK_DEVICE");
    return spec ? vk::pick_device(spec) : all.front();
}

TEST(VulkanMemory, WeightsPastTheDeviceMemoryAreAClearErrorAtLoad) {
    const vk::device_info d = test_device();
    const std::string path = std::string(TANDEM_SHARED_DIR) + "/models/llama-spm-tiny-Q4_K_M.gguf";
    const std::unique_ptr<gguf::file> file = gguf::file::open(path);
    // What a backend reserves before any weight (its activation arena), measured without a limit.
    uint64_t arena_mib = 0;
    {
        auto dev = std::make_shared<vulkan_device>(d);
        vulkan_backend be(dev);
        arena_mib = (dev->device_mem.bytes_reserved() + (1 << 20) - 1) >> 20;
    }
    // 7 MiB more: token_embd (6.4 MiB of q6_K) and some layers load, then a layer's tensor does not
    // fit (the weights take 7.09 MiB).
    ::setenv("TANDEM_VK_MEMORY_LIMIT_MIB", std::to_string(arena_mib + 7).c_str(), 1);
    auto dev = std::make_shared<vulkan_device>(d);
    ::unsetenv("TANDEM_VK_MEMORY_LIMIT_MIB");
    {
        vulkan_backend be(dev);
        try {
            model_load(*file, be);
            ADD_FAILURE() << "the model loaded past the memory limit";
        } catch (const error& e) {
            const std::string what = e.what();
            std::printf("  %s\n", e.what());  // as the user sees it
            EXPECT_NE(what.find(path + ": tensor blk."), std::string::npos) << what;
            EXPECT_NE(what.find(" MiB in the file): Vulkan: allocating "), std::string::npos) << what;
            EXPECT_NE(what.find("TANDEM_VK_MEMORY_LIMIT_MIB"), std::string::npos) << what;
            EXPECT_NE(what.find("need more memory than the device has free"), std::string::npos) << what;
        }
        EXPECT_GT(dev->device_mem.bytes_in_use(), 0u);  // the arena and the weights loaded so far
    }
    EXPECT_EQ(dev->device_mem.bytes_in_use(), 0u);
}

// The backend allocates the KV pools in device memory (issue 13: the engine holds only block ids):
// kv_bytes() is what the pools took, a second alloc_kv replaces the pools (nothing leaks), bad
// geometry is refused with the same checks as the CPU's pools, and the backend gives it all back.
TEST(VulkanMemory, TheBackendAllocatesTheKvPoolsOnTheDevice) {
    auto dev = std::make_shared<vulkan_device>(test_device());
    {
        vulkan_backend be(dev);
        const uint64_t before = dev->device_mem.bytes_in_use();
        const std::vector<kv_group_spec> specs{{2, 2, 64, 0}, {1, 1, 128, 32}};
        be.alloc_kv(specs, dtype::f16, 16, 10);
        const size_t ten = be.kv_bytes();
        EXPECT_GE(ten, 10 * (kv_block_bytes(specs[0], dtype::f16, 16) + kv_block_bytes(specs[1], dtype::f16, 16)));
        EXPECT_EQ(dev->device_mem.bytes_in_use() - before, ten);
        be.alloc_kv(specs, dtype::q8_0, 16, 20);
        EXPECT_EQ(dev->device_mem.bytes_in_use() - before, be.kv_bytes());
        EXPECT_GT(be.kv_bytes(), ten);
        auto refused = [&](dtype t, int64_t n_blocks, std::vector<kv_group_spec> s, const std::string& want) {
            try {
                be.alloc_kv(s, t, 16, n_blocks);
                ADD_FAILURE() << "accepted: " << want;
            } catch (const error& e) {
                EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
            }
        };
        refused(dtype::q4_k, 10, specs, "unsupported KV type q4_K");
        refused(dtype::f16, 0, specs, "block count must be in [1, 2^31), got 0");
        refused(dtype::q8_0, 10, {{1, 1, 48, 0}}, "needs head_dim % 32 == 0");
        refused(dtype::f16, 10, {{0, 1, 64, 0}}, "invalid KV group spec");
    }
    EXPECT_EQ(dev->device_mem.bytes_in_use(), 0u);
}

}  // namespace
}  // namespace tandem
