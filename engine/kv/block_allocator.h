// Block bookkeeping for one KV group: free list (lowest id first), reference counts, and the
// prefix cache (hash -> block). Engine thread only. A cached block keeps its contents after its
// last user leaves and is evicted, least recently released first, only when no free block is left.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tandem {

// Exact identity of a cached block's contents: its id plus the generation it was cached in (the
// generation changes when the block is evicted). A child is keyed on its parent's node, so two
// prefixes with colliding hashes can never share children, whatever the hash function.
struct block_node {
    int32_t block = -1;  // -1: the root (no parent)
    uint32_t gen = 0;
    bool operator==(const block_node&) const = default;
};

class block_allocator {
  public:
    block_allocator(int32_t n_blocks, int32_t block_size);

    int32_t n_blocks() const { return n_blocks_; }
    int32_t block_size() const { return block_size_; }
    // Blocks that allocate() can hand out: never-cached free blocks plus evictable cached ones.
    int32_t n_free() const { return static_cast<int32_t>(free_heap_.size()) + n_cached_free_; }
    int32_t n_used() const { return n_blocks_ - n_free(); }  // reference count > 0
    int32_t n_cached_free() const { return n_cached_free_; }
    int32_t n_cached() const { return n_cached_; }
    int64_t n_evictions() const { return n_evictions_; }

    // Returns a block with reference count 1: the lowest free id, else the least recently released
    // cached block (evicted from the cache). Precondition: n_free() > 0.
    int32_t allocate();
    void retain(int32_t block);   // reference count + 1 (a cached block at 0 leaves the LRU list)
    void release(int32_t block);  // reference count - 1; at 0 a cached block joins the LRU tail

    // The cached block holding `tokens` after `parent`, or -1.
    int32_t find(uint64_t hash, block_node parent, std::span<const int32_t> tokens) const;
    // Registers a full, computed block (reference count > 0, not yet cached) under this key.
    // Precondition: find(hash, parent, tokens) == -1.
    void insert(int32_t block, uint64_t hash, block_node parent, std::span<const int32_t> tokens);
    block_node node_of(int32_t block) const;  // precondition: is_cached(block)

    int32_t ref_count(int32_t block) const { return ref_[block]; }
    bool is_cached(int32_t block) const { return cached_[block] != 0; }

  private:
    struct slot {
        uint64_t hash = 0;
        int32_t block = -1;  // -1: empty
    };
    bool key_equals(int32_t block, uint64_t hash, block_node parent, std::span<const int32_t> tokens) const;
    void evict(int32_t block);
    void table_insert(uint64_t hash, int32_t block);
    void table_erase(uint64_t hash, int32_t block);
    void lru_push_back(int32_t block);
    void lru_remove(int32_t block);

    int32_t n_blocks_;
    int32_t block_size_;
    std::vector<int32_t> free_heap_;            // min-heap of never-cached free blocks
    std::vector<int32_t> ref_;                  // (n_blocks)
    std::vector<uint8_t> cached_;               // (n_blocks) 1: in the hash table
    std::vector<uint32_t> gen_;                 // (n_blocks) bumped on eviction
    std::vector<uint64_t> hash_;                // (n_blocks) valid while cached
    std::vector<block_node> parent_;            // (n_blocks) valid while cached
    std::vector<int32_t> tokens_;               // (n_blocks, block_size) valid while cached
    std::vector<int32_t> lru_prev_, lru_next_;  // (n_blocks) cached blocks with reference count 0
    int32_t lru_head_ = -1, lru_tail_ = -1;
    int32_t n_cached_free_ = 0, n_cached_ = 0;
    int64_t n_evictions_ = 0;
    std::vector<slot> table_;  // open addressing, linear probing; capacity a power of 2 >= 2 n_blocks
    uint64_t table_mask_ = 0;
    int table_shift_ = 0;  // 64 - log2(capacity)
    size_t home(uint64_t hash) const { return static_cast<size_t>((hash * 0x9e3779b97f4a7c15ull) >> table_shift_); }
};

}  // namespace tandem
