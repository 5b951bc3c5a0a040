#include "kernels/vulkan/vk_commands.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/vulkan/vk_check.h"
#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_pipeline.h"

namespace tandem::vk {
namespace {
constexpr uint32_t k_buffers_per_dispatch = 8;  // the most storage buffers a shader binds

// TANDEM_VK_LOSE_DEVICE_AFTER=N, a test hook and not a setting: every fence wait after the first N
// submits of the process that ran shaders (uploads, which some devices do at load, do not count)
// reports VK_ERROR_DEVICE_LOST, as after a GPU reset, so the tests can see what the server does
// then. -1 when unset; a malformed value is an error at start.
int64_t lose_device_after() {
    const char* s = std::getenv("TANDEM_VK_LOSE_DEVICE_AFTER");
    if (!s || !*s) return -1;
    char* end = nullptr;
    const long long v = std::strtoll(s, &end, 10);
    if (*end != '\0' || v < 0)
        throw error(std::string("TANDEM_VK_LOSE_DEVICE_AFTER: expected a number of submits, got \"") + s + "\"");
    return v;
}
std::atomic<int64_t> n_submits{0};  // of the process, for the hook

}  // namespace

recorder::recorder(const context& ctx, uint32_t max_dispatches)
    : ctx_(ctx), max_dispatches_(max_dispatches), lose_after_(lose_device_after()) {
    VkDevice dev = ctx_.device();
    try {
        VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
        pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
        pci.queueFamilyIndex = ctx_.queue_family();
        check(vkCreateCommandPool(dev, &pci, nullptr, &pool_), "vkCreateCommandPool");
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = pool_;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check(vkAllocateCommandBuffers(dev, &ai, &cmd_), "vkAllocateCommandBuffers");
        const VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_dispatches * k_buffers_per_dispatch};
        VkDescriptorPoolCreateInfo dci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dci.maxSets = max_dispatches;
        dci.poolSizeCount = 1;
        dci.pPoolSizes = &size;
        check(vkCreateDescriptorPool(dev, &dci, nullptr, &descriptors_), "vkCreateDescriptorPool");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        check(vkCreateFence(dev, &fci, nullptr, &fence_), "vkCreateFence");
    } catch (...) {
        release();
        throw;
    }
}

recorder::~recorder() {
    release();
}

void recorder::release() {
    VkDevice dev = ctx_.device();
    if (fence_) vkDestroyFence(dev, fence_, nullptr);
    if (descriptors_) vkDestroyDescriptorPool(dev, descriptors_, nullptr);
    if (pool_) vkDestroyCommandPool(dev, pool_, nullptr);  // frees cmd_
    fence_ = VK_NULL_HANDLE, descriptors_ = VK_NULL_HANDLE, pool_ = VK_NULL_HANDLE;
}

void recorder::begin() {
    check(vkResetDescriptorPool(ctx_.device(), descriptors_, 0), "vkResetDescriptorPool");
    check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    n_dispatches_ = 0;
    n_barriers_ = 0;
    since_barrier_.clear();
    recording_ = true;
}

void recorder::dispatch(const pipeline& p, std::initializer_list<slice> buffers, const void* push, uint32_t gx,
                        uint32_t gy, uint32_t gz) {
    if (!recording_) throw error("Vulkan: dispatch outside begin() / submit_and_wait()");
    if (buffers.size() != p.n_buffers || buffers.size() > k_buffers_per_dispatch)
        throw error("Vulkan: a dispatch binds " + std::to_string(buffers.size()) + " buffers, its pipeline takes " +
                    std::to_string(p.n_buffers));
    if (n_dispatches_ == max_dispatches_)
        throw error("Vulkan: more than " + std::to_string(max_dispatches_) + " dispatches in one command buffer");
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = descriptors_;
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &p.set_layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    check(vkAllocateDescriptorSets(ctx_.device(), &ai, &set), "vkAllocateDescriptorSets");
    VkDescriptorBufferInfo infos[k_buffers_per_dispatch];
    VkWriteDescriptorSet writes[k_buffers_per_dispatch];
    uint32_t i = 0;
    for (const slice& s : buffers) {
        infos[i] = {s.buffer, s.offset, s.size};
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = i;
        writes[i].descriptorCount = 1;
        writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        writes[i].pBufferInfo = &infos[i];
        ++i;
    }
    vkUpdateDescriptorSets(ctx_.device(), i, writes, 0, nullptr);
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle);
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
    if (p.push_bytes) vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p.push_bytes, push);
    vkCmdDispatch(cmd_, gx, gy, gz);
    ++n_dispatches_;
}

void recorder::track(std::initializer_list<access> uses) {
    bool hazard = false;
    for (const access& u : uses) {
        for (const access& a : since_barrier_) {
            const bool overlap = a.buffer == u.buffer && a.lo < u.hi && u.lo < a.hi;
            if (overlap && (a.write || u.write)) hazard = true;
        }
    }
    if (hazard) barrier();
    for (const access& u : uses)
        if (u.lo < u.hi) since_barrier_.push_back(u);
}

void recorder::barrier() {
    since_barrier_.clear();
    ++n_barriers_;
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0, nullptr,
                         0, nullptr);
}

void recorder::copy(const slice& src, const slice& dst, uint64_t bytes) {
    copy_regions(src.buffer, dst.buffer, {VkBufferCopy{src.offset, dst.offset, bytes}});
}

void recorder::copy_regions(VkBuffer src, VkBuffer dst, const std::vector<VkBufferCopy>& regions) {
    if (regions.empty()) return;
    // The regions' spans in each buffer: one barrier check for the whole copy.
    access from{src, UINT64_MAX, 0, false}, to{dst, UINT64_MAX, 0, true};
    for (const VkBufferCopy& r : regions) {
        from.lo = std::min(from.lo, r.srcOffset), from.hi = std::max(from.hi, r.srcOffset + r.size);
        to.lo = std::min(to.lo, r.dstOffset), to.hi = std::max(to.hi, r.dstOffset + r.size);
    }
    track({from, to});
    vkCmdCopyBuffer(cmd_, src, dst, static_cast<uint32_t>(regions.size()), regions.data());
}

void recorder::submit_and_wait() {
    if (!recording_) throw error("Vulkan: submit without begin()");
    recording_ = false;
    // Host reads of host-visible results need the device's writes made available to the host.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    check(vkQueueSubmit(ctx_.queue(), 1, &si, fence_), "vkQueueSubmit");
    VkResult waited = vkWaitForFences(ctx_.device(), 1, &fence_, VK_TRUE, UINT64_MAX);
    // The fence is made ready for the next submit before any error (a signaled fence must not be
    // submitted). The hook's loss comes after a real wait: nothing is left running on the memory.
    if (waited == VK_SUCCESS) waited = vkResetFences(ctx_.device(), 1, &fence_);
    if (lose_after_ >= 0 && n_dispatches_ > 0 && n_submits.fetch_add(1) >= lose_after_ && waited == VK_SUCCESS)
        waited = VK_ERROR_DEVICE_LOST;
    check(waited, "vkWaitForFences / vkResetFences");
}

}  // namespace tandem::vk
