#include "kernels/vulkan/vk_check.h"

namespace tandem::vk {

const char* result_name(VkResult r) {
    switch (r) {
#define TANDEM_VK_RESULT(name) \
    case name:                 \
        return #name;
        TANDEM_VK_RESULT(VK_SUCCESS)
        TANDEM_VK_RESULT(VK_NOT_READY)
        TANDEM_VK_RESULT(VK_TIMEOUT)
        TANDEM_VK_RESULT(VK_INCOMPLETE)
        TANDEM_VK_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
        TANDEM_VK_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        TANDEM_VK_RESULT(VK_ERROR_INITIALIZATION_FAILED)
        TANDEM_VK_RESULT(VK_ERROR_DEVICE_LOST)
        TANDEM_VK_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
        TANDEM_VK_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
        TANDEM_VK_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
        TANDEM_VK_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
        TANDEM_VK_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
        TANDEM_VK_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
        TANDEM_VK_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
        TANDEM_VK_RESULT(VK_ERROR_FRAGMENTED_POOL)
        TANDEM_VK_RESULT(VK_ERROR_UNKNOWN)
        TANDEM_VK_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
        TANDEM_VK_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        TANDEM_VK_RESULT(VK_ERROR_FRAGMENTATION)
        TANDEM_VK_RESULT(VK_PIPELINE_COMPILE_REQUIRED)
#undef TANDEM_VK_RESULT
        default:
            return "an unknown VkResult";
    }
}

void check(VkResult r, const char* what) {
    if (r == VK_SUCCESS || r == VK_INCOMPLETE) return;
    std::string msg = std::string("Vulkan: ") + what + " failed: " + result_name(r);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
        msg += " (is a Vulkan driver installed? Debian: mesa-vulkan-drivers for lavapipe, or the GPU vendor's)";
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        msg += " (the device has too little free memory for this model and cache)";
    if (r == VK_ERROR_DEVICE_LOST) throw device_lost(msg + " (the device was lost: a GPU reset or driver fault)");
    throw error(msg);
}

}  // namespace tandem::vk
