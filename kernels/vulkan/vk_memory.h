// Device memory: one allocator sub-allocates large VkDeviceMemory chunks, each bound to one storage
// buffer, so a tensor, a KV pool or an activation arena is a (buffer, offset, size) slice and the
// driver sees a few allocations instead of thousands (drivers cap them: maxMemoryAllocationCount is
// 4096 on many GPUs). A slice never exceeds the device's maxStorageBufferRange (128 MiB on lavapipe):
// larger tensors are split by rows by the caller. Device memory is reserved up to what the driver's
// VK_EXT_memory_budget leaves this process on the largest device-local heap when the allocator is
// made (what other processes use taken off), else up to the heap's size (drivers may let an
// allocation past it succeed and then fail or thrash later), or TANDEM_VK_MEMORY_LIMIT_MIB, a test
// hook (README) that makes a small device of a large one so running out can be tested.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tandem::vk {

class context;
struct heap_budget;

// The most device memory an allocator may reserve, and what set it (for the out-of-memory error).
struct memory_limit {
    uint64_t bytes = 0;
    std::string source;
};

// env_bytes (TANDEM_VK_MEMORY_LIMIT_MIB, 0 when unset) wins; else the room VK_EXT_memory_budget
// reports (budget - usage, at most the heap; 0 when the process is over budget); else (also for a
// budget of 0, which the spec forbids) heap_bytes.
memory_limit device_memory_limit(uint64_t heap_bytes, const std::optional<heap_budget>& budget, uint64_t env_bytes);

struct slice {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t offset = 0;
    uint64_t size = 0;
    void* mapped = nullptr;  // host address of the slice's first byte, when the memory is host-visible
    int32_t chunk = -1;
    explicit operator bool() const { return buffer != VK_NULL_HANDLE; }
};

enum class memory_kind {
    device,  // device-local; host-visible too where the device offers it (integrated GPUs, lavapipe)
    host,    // host-visible and coherent: staging for uploads, read-back of logits
};

class allocator {
  public:
    // chunk_bytes: the size of each new chunk (a larger request gets a chunk of its own size).
    allocator(const context& ctx, memory_kind kind, uint64_t chunk_bytes = uint64_t{256} << 20);
    ~allocator();
    allocator(const allocator&) = delete;
    allocator& operator=(const allocator&) = delete;

    // A slice of at least `bytes` (rounded up to the storage offset alignment). Throws tandem::error
    // when bytes exceeds the buffer range or the device's memory runs out (or would pass the limit);
    // the allocator stays usable.
    slice alloc(uint64_t bytes);
    void free(const slice& s);

    uint64_t bytes_in_use() const { return in_use_; }
    uint64_t bytes_reserved() const { return reserved_; }
    size_t chunks() const { return chunks_.size(); }
    bool host_visible() const { return host_visible_; }
    uint64_t max_slice_bytes() const { return max_slice_; }
    uint64_t limit_bytes() const { return limit_; }  // 0: none (host memory)
    const std::string& limit_source() const { return limit_source_; }

  private:
    struct chunk {
        VkDeviceMemory memory = VK_NULL_HANDLE;
        VkBuffer buffer = VK_NULL_HANDLE;
        uint64_t size = 0;
        uint8_t* mapped = nullptr;
        std::map<uint64_t, uint64_t> free;  // offset -> size of each free range, merged on free
    };
    int32_t add_chunk(uint64_t bytes);
    [[noreturn]] void out_of_memory(uint64_t bytes, const std::string& reason) const;

    const context& ctx_;
    memory_kind kind_;
    uint64_t chunk_bytes_, align_, max_slice_;
    bool limited_ = false;
    uint64_t limit_ = 0;  // the most bytes all chunks may reserve together, when limited_
    std::string limit_source_;
    bool host_visible_ = false;
    std::vector<chunk> chunks_;
    uint64_t in_use_ = 0, reserved_ = 0;
};

}  // namespace tandem::vk
