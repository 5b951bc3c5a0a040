// kv_pool: one MAP_NORESERVE anonymous mapping per KV group; pages are committed on first write.
#include "models/kv_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "common/error.h"

namespace tandem {
namespace {

std::string spec_str(const kv_group_spec& s) {
    return "n_layers=" + std::to_string(s.n_layers) + " n_kv_heads=" + std::to_string(s.n_kv_heads) +
           " head_dim=" + std::to_string(s.head_dim) + " sliding_window=" + std::to_string(s.sliding_window);
}

void validate(const kv_group_spec& spec, dtype type, int32_t block_size) {
    if (spec.n_layers <= 0 || spec.n_kv_heads <= 0 || spec.head_dim <= 0 || spec.sliding_window < 0) {
        throw error("kv cache: invalid KV group spec (" + spec_str(spec) + ")");
    }
    if (block_size <= 0) throw error("kv cache: block size must be positive, got " + std::to_string(block_size));
    if (type != dtype::f16 && type != dtype::q8_0 && type != dtype::q4_0) {
        throw error("kv cache: unsupported KV type " + std::string(dtype_info_of(type).name) +
                    " (supported: f16, q8_0, q4_0)");
    }
    const int64_t qk = dtype_info_of(type).block_elems;
    if (spec.head_dim % qk != 0) {
        throw error("kv cache: KV type " + std::string(dtype_info_of(type).name) + " needs head_dim % " +
                    std::to_string(qk) + " == 0, but head_dim = " + std::to_string(spec.head_dim));
    }
}

}  // namespace

size_t kv_block_bytes(const kv_group_spec& spec, dtype type, int32_t block_size) {
    validate(spec, type, block_size);
    const size_t row = dtype_row_bytes(type, spec.head_dim);
    const size_t part = static_cast<size_t>(block_size) * static_cast<size_t>(spec.n_kv_heads) * row;
    return 2 * static_cast<size_t>(spec.n_layers) * part;
}

int64_t kv_blocks_for_budget(std::span<const kv_group_spec> specs, dtype type, int32_t block_size,
                             size_t budget_bytes) {
    if (specs.empty()) throw error("kv cache: no KV groups to size");
    size_t per_block = 0;
    for (const kv_group_spec& s : specs) per_block += kv_block_bytes(s, type, block_size);
    const int64_t n = static_cast<int64_t>(budget_bytes / per_block);
    if (n < 1) {
        throw error("kv cache: budget of " + std::to_string(budget_bytes) + " bytes holds no block (one block in " +
                    "every group takes " + std::to_string(per_block) + " bytes)");
    }
    return std::min<int64_t>(n, std::numeric_limits<int32_t>::max());
}

kv_pool::kv_pool(const kv_group_spec& spec, dtype type, int32_t block_size, int64_t n_blocks)
    : spec_(spec), type_(type), block_size_(block_size), n_blocks_(n_blocks) {
    block_bytes_ = kv_block_bytes(spec, type, block_size);
    if (n_blocks <= 0 || n_blocks > std::numeric_limits<int32_t>::max()) {
        throw error("kv cache: block count must be in [1, 2^31), got " + std::to_string(n_blocks));
    }
    if (static_cast<size_t>(n_blocks) > std::numeric_limits<size_t>::max() / block_bytes_) {
        throw error("kv cache: " + std::to_string(n_blocks) + " blocks of " + std::to_string(block_bytes_) +
                    " bytes overflow the address space");
    }
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t want = static_cast<size_t>(n_blocks) * block_bytes_;
    mapped_bytes_ = (want + page - 1) / page * page;
    void* p = mmap(nullptr, mapped_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        const int err = errno;
        mapped_bytes_ = 0;
        throw error("kv cache: mmap of " + std::to_string(want) + " bytes for " + std::to_string(n_blocks) +
                    " blocks (" + spec_str(spec) + ") failed: " + std::strerror(err));
    }
    base_ = static_cast<uint8_t*>(p);
}

kv_pool kv_pool::from_budget(const kv_group_spec& spec, dtype type, int32_t block_size, size_t budget_bytes) {
    const int64_t n = kv_blocks_for_budget(std::span<const kv_group_spec>(&spec, 1), type, block_size, budget_bytes);
    return kv_pool(spec, type, block_size, n);
}

kv_pool::~kv_pool() {
    release();
}

kv_pool::kv_pool(kv_pool&& o) noexcept
    : spec_(o.spec_),
      type_(o.type_),
      block_size_(o.block_size_),
      n_blocks_(o.n_blocks_),
      block_bytes_(o.block_bytes_),
      mapped_bytes_(o.mapped_bytes_),
      base_(std::exchange(o.base_, nullptr)) {
    o.mapped_bytes_ = 0;
    o.n_blocks_ = 0;
}

kv_pool& kv_pool::operator=(kv_pool&& o) noexcept {
    if (this != &o) {
        release();
        spec_ = o.spec_;
        type_ = o.type_;
        block_size_ = o.block_size_;
        n_blocks_ = std::exchange(o.n_blocks_, 0);
        block_bytes_ = o.block_bytes_;
        mapped_bytes_ = std::exchange(o.mapped_bytes_, 0);
        base_ = std::exchange(o.base_, nullptr);
    }
    return *this;
}

void kv_pool::release() noexcept {
    if (base_ != nullptr) munmap(base_, mapped_bytes_);
    base_ = nullptr;
}

kv_group_view kv_pool::view() const {
    kv_group_view v;
    v.base = base_;
    v.block_bytes = block_bytes_;
    v.row_bytes = dtype_row_bytes(type_, spec_.head_dim);
    v.part_bytes = static_cast<size_t>(block_size_) * static_cast<size_t>(spec_.n_kv_heads) * v.row_bytes;
    v.block_size = block_size_;
    v.n_kv_heads = spec_.n_kv_heads;
    v.head_dim = spec_.head_dim;
    v.type = type_;
    v.n_blocks = n_blocks();
    return v;
}

}  // namespace tandem
