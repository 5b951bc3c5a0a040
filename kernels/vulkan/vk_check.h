// Vulkan results -> tandem::error: every call that can fail goes through vk_check, which names the
// call and the result (VK_ERROR_OUT_OF_DEVICE_MEMORY, ...), so a missing driver, too little memory
// or a lost device is a message, never a crash.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "common/error.h"

namespace tandem::vk {

// "VK_ERROR_OUT_OF_DEVICE_MEMORY" etc.; the number for a result this list does not know.
const char* result_name(VkResult r);

// Throws tandem::error("Vulkan: <what> failed: <result>") unless r is VK_SUCCESS (or VK_INCOMPLETE,
// which enumeration calls return with a full array anyway); tandem::device_lost for
// VK_ERROR_DEVICE_LOST.
void check(VkResult r, const char* what);

}  // namespace tandem::vk
