// First-fit sub-allocation over chunks: each chunk keeps its free ranges in an ordered map and
// merges neighbours on free.
#include "kernels/vulkan/vk_memory.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "common/check.h"
#include "common/error.h"
#include "kernels/vulkan/vk_check.h"
#include "kernels/vulkan/vk_device.h"

namespace tandem::vk {
namespace {

std::string mib(uint64_t bytes) {
    if (bytes < (1 << 20)) return std::to_string((bytes + 1023) >> 10) + " KiB";
    return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB";
}

// TANDEM_VK_MEMORY_LIMIT_MIB in bytes, 0 when unset; a malformed value is an error.
uint64_t limit_from_env() {
    const char* s = std::getenv("TANDEM_VK_MEMORY_LIMIT_MIB");
    if (!s || !*s) return 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (*end != '\0' || v == 0 || v > (1ull << 40))
        throw error(std::string("TANDEM_VK_MEMORY_LIMIT_MIB: expected a positive number of MiB, got \"") + s + "\"");
    return v << 20;
}

}  // namespace

memory_limit device_memory_limit(uint64_t heap_bytes, const std::optional<heap_budget>& budget, uint64_t env_bytes) {
    if (env_bytes) return {env_bytes, "the limit of " + mib(env_bytes) + " set by TANDEM_VK_MEMORY_LIMIT_MIB"};
    if (budget && budget->budget > 0) {  // the spec says non-zero; a driver that reports 0 gets the heap
        const uint64_t room = budget->budget > budget->usage ? budget->budget - budget->usage : 0;
        const uint64_t bytes = std::min(room, heap_bytes);
        return {bytes, "the device's memory budget of " + mib(bytes) +
                           " (VK_EXT_memory_budget: " + mib(budget->budget) + " for this process, " +
                           mib(budget->usage) + " in use, of a " + mib(heap_bytes) + " heap)"};
    }
    return {heap_bytes, "the device's " + mib(heap_bytes) + " of memory"};
}

allocator::allocator(const context& ctx, memory_kind kind, uint64_t chunk_bytes)
    : ctx_(ctx), kind_(kind), align_(ctx.min_storage_offset_alignment()) {
    const device_info& d = ctx.info();
    max_slice_ =
        std::min<uint64_t>(d.max_storage_buffer_range, d.max_allocation_bytes ? d.max_allocation_bytes : ~0ull);
    chunk_bytes_ = std::min(chunk_bytes, max_slice_);
    if (kind == memory_kind::device) {
        const memory_limit m = device_memory_limit(d.device_local_bytes, ctx.memory_budget(), limit_from_env());
        limited_ = true;
        limit_ = m.bytes;
        limit_source_ = m.source;
    }
}

void allocator::out_of_memory(uint64_t bytes, const std::string& reason) const {
    throw error("Vulkan: allocating " + mib(bytes) + " on " + ctx_.info().name + " failed (" + reason + "; " +
                mib(reserved_) +
                " already allocated): the model's weights, KV cache and activations need more memory than the "
                "device has free (try a smaller --kv-memory or --ctx-size, or a smaller quantization of the model)");
}

allocator::~allocator() {
    for (chunk& c : chunks_) {
        vkDestroyBuffer(ctx_.device(), c.buffer, nullptr);
        vkFreeMemory(ctx_.device(), c.memory, nullptr);  // unmaps implicitly
    }
}

int32_t allocator::add_chunk(uint64_t bytes) {
    if (limited_ && reserved_ + bytes > limit_) out_of_memory(bytes, "it would pass " + limit_source_);
    VkDevice dev = ctx_.device();
    chunk c;
    c.size = bytes;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = bytes;
    bci.usage =
        VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    check(vkCreateBuffer(dev, &bci, nullptr, &c.buffer), "vkCreateBuffer");
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev, c.buffer, &req);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const int32_t type = kind_ == memory_kind::device
                             ? ctx_.memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host)
                             : ctx_.memory_type(req.memoryTypeBits, host, host | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (type < 0) {
        vkDestroyBuffer(dev, c.buffer, nullptr);
        throw error("Vulkan: device " + ctx_.info().name + " has no suitable memory type for " +
                    (kind_ == memory_kind::device ? "device-local buffers" : "host-visible buffers"));
    }
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = static_cast<uint32_t>(type);
    const VkResult r = vkAllocateMemory(dev, &ai, nullptr, &c.memory);
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(dev, c.buffer, nullptr);
        out_of_memory(bytes, result_name(r));
    }
    check(vkBindBufferMemory(dev, c.buffer, c.memory, 0), "vkBindBufferMemory");
    VkPhysicalDeviceMemoryProperties props;
    vkGetPhysicalDeviceMemoryProperties(ctx_.physical(), &props);
    if (props.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        void* p = nullptr;
        check(vkMapMemory(dev, c.memory, 0, VK_WHOLE_SIZE, 0, &p), "vkMapMemory");
        c.mapped = static_cast<uint8_t*>(p);
    }
    host_visible_ = c.mapped != nullptr && (chunks_.empty() || host_visible_);
    c.free.emplace(0, bytes);
    reserved_ += bytes;
    chunks_.push_back(std::move(c));
    return static_cast<int32_t>(chunks_.size() - 1);
}

slice allocator::alloc(uint64_t bytes) {
    if (bytes == 0) bytes = 1;
    const uint64_t need = (bytes + align_ - 1) / align_ * align_;
    if (need > max_slice_)
        throw error("Vulkan: a buffer of " + mib(bytes) + " exceeds the device's storage buffer range of " +
                    mib(max_slice_) + " (" + ctx_.info().name + ")");
    for (int32_t pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < chunks_.size(); ++i) {
            chunk& c = chunks_[i];
            for (auto it = c.free.begin(); it != c.free.end(); ++it) {
                if (it->second < need) continue;
                const uint64_t off = it->first, rest = it->second - need;
                c.free.erase(it);
                if (rest > 0) c.free.emplace(off + need, rest);
                in_use_ += need;
                return {c.buffer, off, need, c.mapped ? c.mapped + off : nullptr, static_cast<int32_t>(i)};
            }
        }
        // A full chunk where the limit leaves room for one, else just what is asked for.
        const uint64_t room = limit_ > reserved_ ? limit_ - reserved_ : 0;
        if (pass == 0) add_chunk(std::max(need, limited_ ? std::min(chunk_bytes_, room) : chunk_bytes_));
    }
    TANDEM_CHECK(false);  // a fresh chunk of at least `need` bytes always fits
    return {};
}

void allocator::free(const slice& s) {
    if (!s) return;
    TANDEM_CHECK(s.chunk >= 0 && static_cast<size_t>(s.chunk) < chunks_.size());
    chunk& c = chunks_[static_cast<size_t>(s.chunk)];
    uint64_t off = s.offset, size = s.size;
    auto next = c.free.lower_bound(off);
    TANDEM_CHECK(next == c.free.end() || next->first >= off + size);  // not free already
    if (next != c.free.end() && next->first == off + size) {
        size += next->second;
        next = c.free.erase(next);
    }
    if (next != c.free.begin()) {
        auto prev = std::prev(next);
        TANDEM_CHECK(prev->first + prev->second <= off);
        if (prev->first + prev->second == off) {
            off = prev->first;
            size += prev->second;
            c.free.erase(prev);
        }
    }
    c.free.emplace(off, size);
    in_use_ -= s.size;
}

}  // namespace tandem::vk
