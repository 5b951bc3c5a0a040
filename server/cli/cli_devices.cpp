// `tandem devices`: the compute devices this machine offers (the CPU with its SIMD level, and every
// Vulkan 1.2 device with its memory, limits and features), one per line on stdout.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "common/error.h"
#include "engine/engine.h"
#include "kernels/dispatch.h"
#include "kernels/vulkan/vk_device.h"
#include "server/cli/commands.h"

namespace tandem {
namespace {

std::string mib(uint64_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

CLI::Validator device_check() {
    return CLI::Validator(
        [](std::string& v) {
            return device_name_valid(v) ? std::string() : "expected cpu, vulkan or vulkan:N, got " + v;
        },
        "DEVICE");
}

void cli_add_devices(CLI::App& app) {
    auto* cmd = app.add_subcommand("devices", "List the compute devices (CPU and Vulkan) and their features");
    cmd->callback([] {
        const uint64_t ram =
            static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
        std::printf("cpu         %s kernels, %u hardware threads, %s memory\n", cpu_level_name(cpu_level_active()),
                    std::thread::hardware_concurrency(), mib(ram).c_str());
        std::vector<vk::device_info> devices;
        try {
            devices = vk::list_devices();
        } catch (const error& e) {
            std::printf("vulkan      unavailable: %s\n", e.what());
            return;
        }
        if (devices.empty()) std::printf("vulkan      no Vulkan 1.2 device\n");
        for (const vk::device_info& d : devices) {
            std::string features;
            if (d.subgroup_size)
                features +=
                    " subgroup=" + std::to_string(d.subgroup_size) + (d.subgroup_arithmetic ? "(arithmetic)" : "");
            if (d.shader_float16) features += " fp16";
            if (d.shader_int8) features += " int8";
            if (d.storage_16bit) features += " storage16";
            if (d.storage_8bit) features += " storage8";
            // What serve may use: the budget VK_EXT_memory_budget gives this process, else the heap.
            const std::string budget = d.memory_budget ? " (budget " + mib(d.device_local_budget) + ", " +
                                                             mib(d.device_local_usage) + " in use)"
                                                       : " (no VK_EXT_memory_budget: the heap's size is the limit)";
            std::printf(
                "vulkan:%-4d %s (%s; Vulkan %s; %s): %s device-local%s, buffer range %s, allocation %s, "
                "shared %u KiB, %u invocations;%s%s\n",
                d.index, d.name.c_str(), d.type.c_str(), d.api_string().c_str(), d.driver.c_str(),
                mib(d.device_local_bytes).c_str(), budget.c_str(), mib(d.max_storage_buffer_range).c_str(),
                mib(d.max_allocation_bytes).c_str(), d.max_shared_bytes / 1024, d.max_workgroup_invocations,
                features.c_str(),
                d.is_cpu() ? " (a CPU device: used only as vulkan:N or with TANDEM_VK_ALLOW_CPU=1)" : "");
        }
    });
}

}  // namespace tandem
