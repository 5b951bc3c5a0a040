// block_allocator: a min-heap free list, an intrusive LRU list of cached blocks nobody holds, and an
// open-addressing hash table (hash -> block) whose entries are verified against stored keys.
#include "engine/kv/block_allocator.h"

#include <algorithm>
#include <functional>

#include "common/check.h"
#include "common/error.h"

namespace tandem {

block_allocator::block_allocator(int32_t n_blocks, int32_t block_size) : n_blocks_(n_blocks), block_size_(block_size) {
    if (n_blocks <= 0 || block_size <= 0) {
        throw error("kv cache: block allocator needs positive n_blocks and block_size, got " +
                    std::to_string(n_blocks) + " and " + std::to_string(block_size));
    }
    const size_t n = static_cast<size_t>(n_blocks);
    free_heap_.resize(n);
    for (size_t i = 0; i < n; ++i) free_heap_[i] = static_cast<int32_t>(i);  // ascending: already a min-heap
    ref_.assign(n, 0);
    cached_.assign(n, 0);
    gen_.assign(n, 0);
    hash_.assign(n, 0);
    parent_.assign(n, block_node{});
    tokens_.assign(n * static_cast<size_t>(block_size), 0);
    lru_prev_.assign(n, -1);
    lru_next_.assign(n, -1);
    size_t cap = 2;
    int bits = 1;
    while (cap < 2 * n) {
        cap *= 2;
        ++bits;
    }
    table_.assign(cap, slot{});
    table_mask_ = cap - 1;
    table_shift_ = 64 - bits;
}

int32_t block_allocator::allocate() {
    TANDEM_CHECK(n_free() > 0);
    int32_t b;
    if (!free_heap_.empty()) {
        std::pop_heap(free_heap_.begin(), free_heap_.end(), std::greater<>());
        b = free_heap_.back();
        free_heap_.pop_back();
    } else {
        b = lru_head_;
        evict(b);
    }
    TANDEM_CHECK(ref_[b] == 0);
    ref_[b] = 1;
    return b;
}

void block_allocator::retain(int32_t b) {
    TANDEM_CHECK(b >= 0 && b < n_blocks_);
    if (ref_[b] == 0) {
        TANDEM_CHECK(cached_[b]);  // only cached blocks can be picked up at reference count 0
        lru_remove(b);
    }
    ++ref_[b];
}

void block_allocator::release(int32_t b) {
    TANDEM_CHECK(b >= 0 && b < n_blocks_ && ref_[b] > 0);
    if (--ref_[b] > 0) return;
    if (cached_[b]) {
        lru_push_back(b);
    } else {
        free_heap_.push_back(b);
        std::push_heap(free_heap_.begin(), free_heap_.end(), std::greater<>());
    }
}

bool block_allocator::key_equals(int32_t b, uint64_t hash, block_node parent, std::span<const int32_t> tokens) const {
    if (hash_[b] != hash || !(parent_[b] == parent)) return false;
    const int32_t* t = &tokens_[static_cast<size_t>(b) * block_size_];
    return std::equal(tokens.begin(), tokens.end(), t);
}

int32_t block_allocator::find(uint64_t hash, block_node parent, std::span<const int32_t> tokens) const {
    TANDEM_CHECK(static_cast<int32_t>(tokens.size()) == block_size_);
    for (size_t i = home(hash);; i = (i + 1) & table_mask_) {
        const slot& s = table_[i];
        if (s.block < 0) return -1;
        if (s.hash == hash && key_equals(s.block, hash, parent, tokens)) return s.block;
    }
}

void block_allocator::insert(int32_t b, uint64_t hash, block_node parent, std::span<const int32_t> tokens) {
    TANDEM_CHECK(b >= 0 && b < n_blocks_ && ref_[b] > 0 && !cached_[b]);
    TANDEM_CHECK(static_cast<int32_t>(tokens.size()) == block_size_);
    cached_[b] = 1;
    hash_[b] = hash;
    parent_[b] = parent;
    std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<ptrdiff_t>(b) * block_size_);
    table_insert(hash, b);
    ++n_cached_;
}

block_node block_allocator::node_of(int32_t b) const {
    TANDEM_CHECK(b >= 0 && b < n_blocks_ && cached_[b]);
    return block_node{b, gen_[b]};
}

void block_allocator::evict(int32_t b) {
    TANDEM_CHECK(cached_[b] && ref_[b] == 0);
    lru_remove(b);
    table_erase(hash_[b], b);
    cached_[b] = 0;
    ++gen_[b];  // children keyed on the old node can never match again
    --n_cached_;
    ++n_evictions_;
}

void block_allocator::table_insert(uint64_t hash, int32_t b) {
    size_t i = home(hash);
    while (table_[i].block >= 0) i = (i + 1) & table_mask_;
    table_[i] = slot{hash, b};
}

void block_allocator::table_erase(uint64_t hash, int32_t b) {
    size_t i = home(hash);
    while (table_[i].block != b) {
        TANDEM_CHECK(table_[i].block >= 0);
        i = (i + 1) & table_mask_;
    }
    // Backward-shift deletion keeps every probe run contiguous (no tombstones).
    for (size_t j = (i + 1) & table_mask_; table_[j].block >= 0; j = (j + 1) & table_mask_) {
        const size_t k = home(table_[j].hash);
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        table_[i] = table_[j];
        i = j;
    }
    table_[i] = slot{};
}

void block_allocator::lru_push_back(int32_t b) {
    lru_prev_[b] = lru_tail_;
    lru_next_[b] = -1;
    if (lru_tail_ >= 0) {
        lru_next_[lru_tail_] = b;
    } else {
        lru_head_ = b;
    }
    lru_tail_ = b;
    ++n_cached_free_;
}

void block_allocator::lru_remove(int32_t b) {
    const int32_t p = lru_prev_[b], n = lru_next_[b];
    if (p >= 0) {
        lru_next_[p] = n;
    } else {
        lru_head_ = n;
    }
    if (n >= 0) {
        lru_prev_[n] = p;
    } else {
        lru_tail_ = p;
    }
    lru_prev_[b] = lru_next_[b] = -1;
    --n_cached_free_;
}

}  // namespace tandem
