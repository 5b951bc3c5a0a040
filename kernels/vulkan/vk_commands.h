// Recording and running work on the device: one command buffer collects a forward's dispatches,
// with a barrier only where data flows (track(): a later dispatch reads what an earlier one wrote, or
// writes what it read or wrote, since the last barrier), and one submit runs it (the
// synchronisation point: submit_and_wait returns when the results are readable).
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kernels/vulkan/vk_memory.h"

namespace tandem::vk {

class context;
struct pipeline;

// Bytes [lo, hi) of a buffer that a dispatch or copy reads or writes.
struct access {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t lo = 0, hi = 0;
    bool write = false;
};

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
    // Declares what the next dispatch reads and writes: a barrier is recorded first when one of
    // `uses` overlaps a write since the last barrier, or is a write overlapping a read since then
    // (read-after-write, write-after-read, write-after-write). Ops call it before each dispatch; a
    // dispatch without it is ordered only by explicit barrier() calls.
    void track(std::initializer_list<access> uses);
    // Every shader write so far is visible to the shaders and copies recorded after it.
    void barrier();
    // Copies track their own ranges (as reads of src and writes of dst).
    void copy(const slice& src, const slice& dst, uint64_t bytes);
    // Byte ranges of one buffer to another (or the same buffer, ranges not overlapping).
    void copy_regions(VkBuffer src, VkBuffer dst, const std::vector<VkBufferCopy>& regions);
    bool recording() const { return recording_; }
    // Submits what was recorded and waits; throws tandem::device_lost when the device is lost
    // (or TANDEM_VK_LOSE_DEVICE_AFTER's test hook says so), tandem::error on other failures.
    void submit_and_wait();
    uint32_t dispatches() const { return n_dispatches_; }
    uint32_t barriers() const { return n_barriers_; }  // recorded since begin()

  private:
    void release();

    const context& ctx_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkDescriptorPool descriptors_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    uint32_t max_dispatches_ = 0, n_dispatches_ = 0, n_barriers_ = 0;
    int64_t lose_after_ = -1;            // TANDEM_VK_LOSE_DEVICE_AFTER
    std::vector<access> since_barrier_;  // what the work recorded since the last barrier touches
    bool recording_ = false;
};

}  // namespace tandem::vk
