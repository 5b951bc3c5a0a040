// The paged KV cache's bookkeeping (vLLM v1 shape): one block_allocator per KV group and, per
// sequence, one block table per group. It owns no KV memory (the backend does) and is used by the
// engine thread only (no mutex). Sequences cross this API as integer ids.
//
// Life of a sequence: match_prefix() at admission (attaches cached full blocks), then each step
// allocate_slots() for the tokens to compute (false: nothing changed, preempt someone), the
// forward pass, commit_full_blocks() for the tokens now computed and accepted, truncate() to roll
// back rejected speculative tokens, and free_seq() at the end or on preemption.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_allocator.h"
#include "engine/kv/block_hash.h"
#include "models/batch.h"

namespace tandem {

// A block table entry for a sliding-window block released because no future query can see it.
constexpr int32_t k_released_block = -1;

struct kv_cache_group_config {
    int32_t n_blocks = 0;
    int32_t sliding_window = 0;  // 0: full attention; else keys with q_pos - k_pos >= window are never read
};

struct kv_cache_config {
    int32_t block_size = 16;                    // tokens per block, same for every group
    std::vector<kv_cache_group_config> groups;  // 1 .. k_max_kv_groups
    bool enable_prefix_caching = true;
    // Sliding groups keep this many tokens beyond the window. commit_full_blocks() releases on
    // accepted tokens only and truncate() never goes below them, so 0 is safe; a positive slack
    // (e.g. the draft length) is a safety margin for callers that release on unverified counts.
    int32_t sliding_slack = 0;
    block_hash_fn hash_fn = nullptr;  // nullptr: block_hash (tests inject weak hashes)
};

struct kv_cache_stats {  // blocks summed over groups
    int64_t n_blocks_total = 0;
    int64_t n_blocks_used = 0;          // reference count > 0
    int64_t n_blocks_cached_free = 0;   // unreferenced but still holding a cached prefix (evictable)
    int64_t n_prefix_query_tokens = 0;  // prompt tokens looked up by match_prefix
    int64_t n_prefix_hit_tokens = 0;    // of those, tokens served from the cache
    int64_t n_evictions = 0;
};

class kv_cache_manager {
  public:
    explicit kv_cache_manager(const kv_cache_config& cfg);  // throws tandem::error on a bad config

    int n_groups() const { return static_cast<int>(groups_.size()); }
    int32_t block_size() const { return block_size_; }

    // Whether allocate_slots(seq_id, n_tokens_total) would succeed (an unknown seq has no blocks).
    bool can_allocate(int64_t seq_id, int64_t n_tokens_total) const;
    // Grows every group's table to cover n_tokens_total tokens, or changes nothing and returns
    // false (the caller preempts). Never shrinks. Creates the sequence if it is unknown.
    bool allocate_slots(int64_t seq_id, int64_t n_tokens_total);
    // At admission, before any allocate_slots(): attaches the cached full blocks of the longest
    // cached prefix of `tokens` (in every group) and returns the tokens they cover: a multiple of
    // the block size, always < tokens.size() so the last prompt token is computed for its logits.
    int64_t match_prefix(int64_t seq_id, std::span<const int32_t> tokens);
    // After a step: `tokens` are the sequence's tokens, the first n_computed of them in the KV
    // cache and final (accepted; never count unverified drafts). Registers blocks that became full
    // in the prefix cache (a block whose contents are already cached is swapped for the cached
    // one and freed), then releases sliding-window blocks no future query can read.
    void commit_full_blocks(int64_t seq_id, std::span<const int32_t> tokens, int64_t n_computed);
    // Rollback to n_tokens tokens: releases whole blocks past the end, copies nothing. n_tokens
    // must not go below the last n_computed given to commit_full_blocks() (accepted tokens stay;
    // committed blocks are shared and immutable): checked, aborts on violation.
    void truncate(int64_t seq_id, int64_t n_tokens);
    void free_seq(int64_t seq_id);  // no-op for an unknown id

    bool has_seq(int64_t seq_id) const { return seqs_.count(seq_id) != 0; }
    // Valid until the next call that changes this sequence. Entries may be k_released_block in
    // sliding groups, below the window.
    std::span<const int32_t> block_table(int64_t seq_id, int group) const;
    int64_t n_committed_tokens(int64_t seq_id) const;  // tokens in blocks registered in the cache

    kv_cache_stats stats() const;
    const block_allocator& allocator(int group) const { return groups_[group].alloc; }

  private:
    struct group {
        block_allocator alloc;
        int32_t sliding_window;
    };
    struct seq_group {
        std::vector<int32_t> table;     // block ids, one per block_size tokens
        std::vector<block_node> nodes;  // cache identity of each committed block
        int64_t n_released = 0;         // leading entries released (sliding groups)
    };
    struct seq_state {
        seq_group g[k_max_kv_groups];
        std::vector<uint64_t> hashes;  // chain hash of each committed block
    };

    uint64_t hash_block(uint64_t parent, std::span<const int32_t> tokens) const { return hash_fn_(parent, tokens); }
    void commit_block(seq_state& st, std::span<const int32_t> tokens, int64_t k);
    void release_out_of_window(seq_state& st, int64_t n_computed);
    const seq_state& state(int64_t seq_id) const;
    seq_state& state(int64_t seq_id);

    int32_t block_size_;
    bool prefix_caching_;
    int32_t sliding_slack_;
    block_hash_fn hash_fn_;
    std::vector<group> groups_;
    std::unordered_map<int64_t, seq_state> seqs_;
    int64_t n_prefix_query_tokens_ = 0, n_prefix_hit_tokens_ = 0;
};

}  // namespace tandem
