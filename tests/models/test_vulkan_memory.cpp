// A model whose weights do not fit the Vulkan device's memory is a clear error at load, not a crash:
// TANDEM_VK_MEMORY_LIMIT_MIB (the allocator's test hook) makes a small device of lavapipe, and the
// error names the file, the tensor that did not fit and the limit; the backend gives back all it took.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/error.h"
#include "models/gguf/gguf.h"
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

}  // namespace
}  // namespace tandem
