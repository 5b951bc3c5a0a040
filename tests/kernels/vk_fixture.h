// The Vulkan tests' device: TANDEM_TEST_VK_DEVICE (vulkan:N), else the first device of any type
// (lavapipe in CI), opened once per suite; without a device every test fails with one message.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "common/error.h"
#include "kernels/vulkan/vk_device.h"

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

}  // namespace tandem::vk
