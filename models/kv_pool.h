// The memory of one KV group on the CPU backend: n_blocks fixed-size blocks (layout in
// kernels/kv_layout.h) in one lazily committed anonymous mapping, so resident memory grows only with
// the blocks written. Also the KV geometry every backend checks and sizes by (kv_block_bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/kv_layout.h"
#include "kernels/types.h"
#include "models/kv_view.h"

namespace tandem {

// Bytes of one block of `spec` with `block_size` tokens stored as `type`; throws tandem::error if
// the type is not f16/q8_0/q4_0, or head_dim does not fit the quantization block.
size_t kv_block_bytes(const kv_group_spec& spec, dtype type, int32_t block_size);

// The largest block count n such that n blocks of *every* group fit in `budget_bytes` (each
// sequence needs about as many blocks in each group). Throws if not even one block fits.
int64_t kv_blocks_for_budget(std::span<const kv_group_spec> specs, dtype type, int32_t block_size, size_t budget_bytes);

class kv_pool {
  public:
    // Throws tandem::error on an invalid spec/type or if the mapping fails.
    kv_pool(const kv_group_spec& spec, dtype type, int32_t block_size, int64_t n_blocks);
    static kv_pool from_budget(const kv_group_spec& spec, dtype type, int32_t block_size, size_t budget_bytes);
    ~kv_pool();
    kv_pool(kv_pool&& other) noexcept;
    kv_pool& operator=(kv_pool&& other) noexcept;
    kv_pool(const kv_pool&) = delete;
    kv_pool& operator=(const kv_pool&) = delete;

    // Models read and write rows through the view; it stays valid while the pool lives.
    kv_group_view view() const;
    const kv_group_spec& spec() const { return spec_; }
    dtype type() const { return type_; }
    int32_t block_size() const { return block_size_; }
    int64_t n_blocks() const { return n_blocks_; }
    size_t block_bytes() const { return block_bytes_; }
    size_t mapped_bytes() const { return mapped_bytes_; }
    const uint8_t* data() const { return base_; }

  private:
    void release() noexcept;

    kv_group_spec spec_;
    dtype type_ = dtype::f16;
    int32_t block_size_ = 0;
    int64_t n_blocks_ = 0;
    size_t block_bytes_ = 0;
    size_t mapped_bytes_ = 0;
    uint8_t* base_ = nullptr;  // (n_blocks, block_bytes), mmap'ed MAP_NORESERVE
};

}  // namespace tandem
