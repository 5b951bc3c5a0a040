// Vulkan instances and devices: what is there (`tandem devices`), which one a `--device` string
// picks, and the open device with its compute queue. A CPU-type device (Mesa's lavapipe) is never
// picked by "vulkan" alone, only by index ("vulkan:N") or with TANDEM_VK_ALLOW_CPU=1, since it is
// slower than Tandem's own CPU kernels.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem::vk {

struct device_info {
    int32_t index = 0;                // in the loader's enumeration order
    std::string name;                 // "llvmpipe (LLVM 15.0.6, 256 bits)"
    std::string type;                 // "discrete", "integrated", "virtual", "cpu", "other"
    std::string driver;               // driver name and version, as the driver reports them
    uint32_t api_version = 0;         // VK_MAKE_API_VERSION
    uint64_t device_local_bytes = 0;  // the largest device-local heap
    int32_t device_local_heap = -1;   // its index
    // VK_EXT_memory_budget: the driver's estimate of what this process may use of that heap (other
    // processes' use taken off) and what it uses now, at enumeration; false where the device lacks
    // the extension (lavapipe), and then only the heap's size is known.
    bool memory_budget = false;
    uint64_t device_local_budget = 0;
    uint64_t device_local_usage = 0;
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_allocation_bytes = 0;
    uint32_t max_shared_bytes = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t subgroup_size = 0;        // 0 when the device reports none
    bool subgroup_arithmetic = false;  // subgroupAdd & co. in compute shaders
    bool shader_float16 = false;
    bool shader_int8 = false;
    bool storage_16bit = false;  // 16-bit storage buffer access (f16 weights read as f16)
    bool storage_8bit = false;
    bool is_cpu() const { return type == "cpu"; }
    // "1.3.239"
    std::string api_string() const;
};

// Every Vulkan 1.2+ device the loader sees (older ones are left out). Throws tandem::error with a
// clear message when there is no loader or no driver at all.
std::vector<device_info> list_devices();

// The device a `--device` value names: "vulkan" (the first non-CPU device, or a CPU device when
// TANDEM_VK_ALLOW_CPU=1) or "vulkan:N" (device N, of any type). Throws tandem::error naming what
// was asked and what exists.
device_info pick_device(const std::string& spec);

// What VK_EXT_memory_budget reports for one heap: the budget this process may use and its usage.
struct heap_budget {
    uint64_t budget = 0, usage = 0;
};

// An open device: instance, logical device and one compute queue. Not copyable; one per process
// is the usual use.
class context {
  public:
    explicit context(const device_info& d);
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    const device_info& info() const { return info_; }
    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkDevice device() const { return device_; }
    VkQueue queue() const { return queue_; }
    uint32_t queue_family() const { return queue_family_; }
    uint64_t min_storage_offset_alignment() const { return min_storage_alignment_; }
    // The device-local heap's budget and usage now (VK_EXT_memory_budget), or nothing where the
    // device lacks the extension.
    std::optional<heap_budget> memory_budget() const;
    // Index of a memory type with all of `required` among `type_bits`, preferring `preferred` too;
    // -1 when none.
    int32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const;

  private:
    device_info info_;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queue_family_ = 0;
    uint64_t min_storage_alignment_ = 256;
    VkPhysicalDeviceMemoryProperties memory_{};
};

}  // namespace tandem::vk
