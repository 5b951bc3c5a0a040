// Recording and running work on the device: one command buffer collects a forward's dispatches,
// with a barrier only where a later dispatch reads what an earlier one wrote, and one submit runs it
// (the synchronisation point: submit_and_wait returns when the results are readable).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kernels/vulkan/vk_memory.h"

namespace tandem::vk {

class context;
struct pipeline;

class recorder {
  public:
    // max_dispatches: descriptor sets available between two begin() calls.
    explicit recorder(const context& ctx, uint32_t max_dispatches = 4096);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    void begin();  // waits for nothing: the previous submit_and_wait has finished
    // Binds `buffers` to bindings 0.. of the pipeline's set, pushes `push` (p.push_bytes bytes) and
    // dispatches groups. Throws tandem::error when the buffers do not match the pipeline or the
    // descriptor pool is spent.
    void dispatch(const pipeline& p, std::initializer_list<slice> buffers, const void* push, uint32_t gx,
                  uint32_t gy = 1, uint32_t gz = 1);
    // Every shader write so far is visible to the shaders and copies recorded after it.
    void barrier();
    void copy(const slice& src, const slice& dst, uint64_t bytes);
    // Byte ranges of one buffer to another (or the same buffer, ranges not overlapping).
    void copy_regions(VkBuffer src, VkBuffer dst, const std::vector<VkBufferCopy>& regions);
    bool recording() const { return recording_; }
    // Submits what was recorded and waits; throws tandem::error (VK_ERROR_DEVICE_LOST, ...) on failure.
    void submit_and_wait();
    uint32_t dispatches() const { return n_dispatches_; }

  private:
    void release();

    const context& ctx_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkDescriptorPool descriptors_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    uint32_t max_dispatches_ = 0, n_dispatches_ = 0;
    bool recording_ = false;
};

}  // namespace tandem::vk
