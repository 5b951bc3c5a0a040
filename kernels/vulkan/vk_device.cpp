// Device enumeration and selection, and the open device.
#include "kernels/vulkan/vk_device.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "kernels/vulkan/vk_check.h"

namespace tandem::vk {
namespace {

constexpr uint32_t k_min_api = VK_API_VERSION_1_2;

VkInstance create_instance() {
    uint32_t loader_version = 0;
    auto enumerate_version = reinterpret_cast<PFN_vkEnumerateInstanceVersion>(
        vkGetInstanceProcAddr(VK_NULL_HANDLE, "vkEnumerateInstanceVersion"));
    if (!enumerate_version || enumerate_version(&loader_version) != VK_SUCCESS || loader_version < k_min_api)
        throw error("Vulkan: the loader does not support Vulkan 1.2 (Debian: libvulkan1 from bookworm or later)");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "tandem";
    app.pEngineName = "tandem";
    app.apiVersion = k_min_api;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    VkInstance instance = VK_NULL_HANDLE;
    check(vkCreateInstance(&ci, nullptr, &instance), "vkCreateInstance");
    return instance;
}

// Owns an instance for the span of an enumeration.
struct instance_guard {
    VkInstance instance = create_instance();
    ~instance_guard() { vkDestroyInstance(instance, nullptr); }
};

std::vector<VkPhysicalDevice> physical_devices(VkInstance instance) {
    uint32_t n = 0;
    check(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> out(n);
    check(vkEnumeratePhysicalDevices(instance, &n, out.data()), "vkEnumeratePhysicalDevices");
    out.resize(n);
    return out;
}

const char* type_name(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return "discrete";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return "integrated";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
            return "virtual";
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return "cpu";
        default:
            return "other";
    }
}

bool has_extension(VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr) != VK_SUCCESS) return false;
    std::vector<VkExtensionProperties> all(n);
    if (vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, all.data()) != VK_SUCCESS) return false;
    for (uint32_t i = 0; i < n; ++i)
        if (std::strcmp(all[i].extensionName, name) == 0) return true;
    return false;
}

// Heap `heap`'s budget and usage; an extension the device supports may be queried before any
// logical device exists (physical-device-level functionality, Vulkan 1.1).
heap_budget query_budget(VkPhysicalDevice pd, int32_t heap) {
    VkPhysicalDeviceMemoryBudgetPropertiesEXT b{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 mem{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    mem.pNext = &b;
    vkGetPhysicalDeviceMemoryProperties2(pd, &mem);
    return {b.heapBudget[heap], b.heapUsage[heap]};
}

device_info describe(VkPhysicalDevice pd, int32_t index) {
    VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    subgroup.pNext = &driver;
    m3.pNext = &subgroup;
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props.pNext = &m3;
    vkGetPhysicalDeviceProperties2(pd, &props);

    VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
    VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    f11.pNext = &f12;
    VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    features.pNext = &f11;
    vkGetPhysicalDeviceFeatures2(pd, &features);

    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);

    const VkPhysicalDeviceLimits& lim = props.properties.limits;
    device_info d;
    d.index = index;
    d.name = props.properties.deviceName;
    d.type = type_name(props.properties.deviceType);
    d.driver = std::string(driver.driverName) + (driver.driverInfo[0] ? std::string(" ") + driver.driverInfo : "");
    d.api_version = props.properties.apiVersion;
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h) {
        if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            mem.memoryHeaps[h].size > d.device_local_bytes) {
            d.device_local_bytes = mem.memoryHeaps[h].size;
            d.device_local_heap = static_cast<int32_t>(h);
        }
    }
    d.memory_budget = d.device_local_heap >= 0 && has_extension(pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    if (d.memory_budget) {
        const heap_budget b = query_budget(pd, d.device_local_heap);
        d.device_local_budget = b.budget;
        d.device_local_usage = b.usage;
    }
    d.max_storage_buffer_range = lim.maxStorageBufferRange;
    d.max_allocation_bytes = m3.maxMemoryAllocationSize;
    d.max_shared_bytes = lim.maxComputeSharedMemorySize;
    d.max_workgroup_invocations = lim.maxComputeWorkGroupInvocations;
    if (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
        d.subgroup_size = subgroup.subgroupSize;
        d.subgroup_arithmetic = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) != 0;
    }
    d.shader_float16 = f12.shaderFloat16;
    d.shader_int8 = f12.shaderInt8;
    d.storage_16bit = f11.storageBuffer16BitAccess;
    d.storage_8bit = f12.storageBuffer8BitAccess;
    return d;
}

bool allow_cpu_devices() {
    const char* v = std::getenv("TANDEM_VK_ALLOW_CPU");
    return v && std::strcmp(v, "1") == 0;
}

std::string listing(const std::vector<device_info>& all) {
    std::string s;
    for (const device_info& d : all)
        s += (s.empty() ? "" : ", ") + ("vulkan:" + std::to_string(d.index)) + " " + d.name + " (" + d.type + ")";
    return s.empty() ? "none" : s;
}

}  // namespace

std::string device_info::api_string() const {
    return std::to_string(VK_API_VERSION_MAJOR(api_version)) + "." + std::to_string(VK_API_VERSION_MINOR(api_version)) +
           "." + std::to_string(VK_API_VERSION_PATCH(api_version));
}

std::vector<device_info> list_devices() {
    instance_guard g;
    std::vector<device_info> out;
    const std::vector<VkPhysicalDevice> pds = physical_devices(g.instance);
    for (size_t i = 0; i < pds.size(); ++i) {
        device_info d = describe(pds[i], static_cast<int32_t>(i));
        if (d.api_version >= k_min_api) out.push_back(std::move(d));
    }
    return out;
}

device_info pick_device(const std::string& spec) {
    const std::vector<device_info> all = list_devices();
    if (spec == "vulkan") {
        for (const device_info& d : all)
            if (!d.is_cpu() || allow_cpu_devices()) return d;
        throw error("--device vulkan: no Vulkan GPU found (devices: " + listing(all) +
                    "); a CPU-type device such as lavapipe is used only when named (vulkan:N) or with "
                    "TANDEM_VK_ALLOW_CPU=1");
    }
    const std::string prefix = "vulkan:";
    if (spec.rfind(prefix, 0) == 0 && spec.size() > prefix.size() && spec.size() <= prefix.size() + 3 &&
        std::all_of(spec.begin() + static_cast<std::ptrdiff_t>(prefix.size()), spec.end(),
                    [](char c) { return c >= '0' && c <= '9'; })) {
        const int32_t n = std::stoi(spec.substr(prefix.size()));
        for (const device_info& d : all)
            if (d.index == n) return d;
        throw error("--device " + spec + ": no such Vulkan device (devices: " + listing(all) + ")");
    }
    throw error("--device '" + spec + "': expected cpu, vulkan or vulkan:N");
}

context::context(const device_info& d) : info_(d) {
    instance_ = create_instance();
    try {
        const std::vector<VkPhysicalDevice> pds = physical_devices(instance_);
        if (d.index < 0 || static_cast<size_t>(d.index) >= pds.size())
            throw error("Vulkan: device " + std::to_string(d.index) + " is gone");
        physical_ = pds[static_cast<size_t>(d.index)];
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(physical_, &props);
        min_storage_alignment_ = std::max<uint64_t>(props.limits.minStorageBufferOffsetAlignment, 4);
        vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

        uint32_t n_families = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, nullptr);
        std::vector<VkQueueFamilyProperties> families(n_families);
        vkGetPhysicalDeviceQueueFamilyProperties(physical_, &n_families, families.data());
        // A compute queue, preferring one without graphics (a GPU's async compute family).
        int32_t family = -1;
        for (uint32_t i = 0; i < n_families; ++i) {
            if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
            if (family < 0 || !(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) family = static_cast<int32_t>(i);
        }
        if (family < 0) throw error("Vulkan: device " + d.name + " has no compute queue");
        queue_family_ = static_cast<uint32_t>(family);

        const float priority = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qci.queueFamilyIndex = queue_family_;
        qci.queueCount = 1;
        qci.pQueuePriorities = &priority;
        // Only features the device has are asked for; shaders that need one are chosen by device_info.
        VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
        VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
        f11.pNext = &f12;
        f11.storageBuffer16BitAccess = d.storage_16bit;
        f12.storageBuffer8BitAccess = d.storage_8bit;
        f12.shaderFloat16 = d.shader_float16;
        f12.shaderInt8 = d.shader_int8;
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        dci.pNext = &f11;
        const char* budget_ext = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
        if (d.memory_budget) {
            dci.enabledExtensionCount = 1;
            dci.ppEnabledExtensionNames = &budget_ext;
        }
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        check(vkCreateDevice(physical_, &dci, nullptr, &device_), "vkCreateDevice");
        vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
    } catch (...) {
        vkDestroyInstance(instance_, nullptr);
        throw;
    }
}

context::~context() {
    if (device_) {
        vkDeviceWaitIdle(device_);
        vkDestroyDevice(device_, nullptr);
    }
    vkDestroyInstance(instance_, nullptr);
}

std::optional<heap_budget> context::memory_budget() const {
    if (!info_.memory_budget) return std::nullopt;
    return query_budget(physical_, info_.device_local_heap);
}

int32_t context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                             VkMemoryPropertyFlags preferred) const {
    int32_t fallback = -1;
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
        if (!(type_bits & (1u << i))) continue;
        const VkMemoryPropertyFlags f = memory_.memoryTypes[i].propertyFlags;
        if ((f & required) != required) continue;
        if ((f & preferred) == preferred) return static_cast<int32_t>(i);
        if (fallback < 0) fallback = static_cast<int32_t>(i);
    }
    return fallback;
}

}  // namespace tandem::vk
