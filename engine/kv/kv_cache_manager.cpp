// kv_cache_manager: block tables per sequence and group on top of the per-group allocators.
#include "engine/kv/kv_cache_manager.h"

#include <algorithm>
#include <string>

#include "common/check.h"
#include "common/error.h"

namespace tandem {
namespace {

int64_t blocks_for(int64_t n_tokens, int32_t block_size) {
    return (n_tokens + block_size - 1) / block_size;
}

}  // namespace

kv_cache_manager::kv_cache_manager(const kv_cache_config& cfg)
    : block_size_(cfg.block_size),
      prefix_caching_(cfg.enable_prefix_caching),
      sliding_slack_(cfg.sliding_slack),
      hash_fn_(cfg.hash_fn != nullptr ? cfg.hash_fn : &block_hash) {
    if (cfg.groups.empty() || cfg.groups.size() > static_cast<size_t>(k_max_kv_groups)) {
        throw error("kv cache: need 1.." + std::to_string(k_max_kv_groups) + " KV groups, got " +
                    std::to_string(cfg.groups.size()));
    }
    if (cfg.block_size <= 0)
        throw error("kv cache: block size must be positive, got " + std::to_string(cfg.block_size));
    if (cfg.sliding_slack < 0)
        throw error("kv cache: sliding_slack must be >= 0, got " + std::to_string(cfg.sliding_slack));
    groups_.reserve(cfg.groups.size());
    for (size_t g = 0; g < cfg.groups.size(); ++g) {
        const kv_cache_group_config& gc = cfg.groups[g];
        if (gc.n_blocks <= 0 || gc.sliding_window < 0) {
            throw error("kv cache: group " + std::to_string(g) + " needs n_blocks > 0 and sliding_window >= 0, got " +
                        std::to_string(gc.n_blocks) + " and " + std::to_string(gc.sliding_window));
        }
        groups_.push_back(group{block_allocator(gc.n_blocks, cfg.block_size), gc.sliding_window});
    }
}

const kv_cache_manager::seq_state& kv_cache_manager::state(int64_t seq_id) const {
    auto it = seqs_.find(seq_id);
    TANDEM_CHECK(it != seqs_.end());
    return it->second;
}

kv_cache_manager::seq_state& kv_cache_manager::state(int64_t seq_id) {
    auto it = seqs_.find(seq_id);
    TANDEM_CHECK(it != seqs_.end());
    return it->second;
}

bool kv_cache_manager::can_allocate(int64_t seq_id, int64_t n_tokens_total) const {
    TANDEM_CHECK(n_tokens_total >= 0);
    const int64_t need = blocks_for(n_tokens_total, block_size_);
    auto it = seqs_.find(seq_id);
    for (size_t g = 0; g < groups_.size(); ++g) {
        const int64_t have = it == seqs_.end() ? 0 : static_cast<int64_t>(it->second.g[g].table.size());
        if (need - have > groups_[g].alloc.n_free()) return false;
    }
    return true;
}

bool kv_cache_manager::allocate_slots(int64_t seq_id, int64_t n_tokens_total) {
    if (!can_allocate(seq_id, n_tokens_total)) return false;
    seq_state& st = seqs_[seq_id];
    const size_t need = static_cast<size_t>(blocks_for(n_tokens_total, block_size_));
    for (size_t g = 0; g < groups_.size(); ++g) {
        std::vector<int32_t>& table = st.g[g].table;
        while (table.size() < need) table.push_back(groups_[g].alloc.allocate());
    }
    return true;
}

int64_t kv_cache_manager::match_prefix(int64_t seq_id, std::span<const int32_t> tokens) {
    seq_state& st = seqs_[seq_id];
    for (size_t g = 0; g < groups_.size(); ++g) TANDEM_CHECK(st.g[g].table.empty());
    n_prefix_query_tokens_ += static_cast<int64_t>(tokens.size());
    if (!prefix_caching_ || tokens.empty()) return 0;
    const size_t n_max = (tokens.size() - 1) / static_cast<size_t>(block_size_);
    const size_t bs = static_cast<size_t>(block_size_);
    uint64_t parent_hash = k_block_hash_root;
    int32_t found[k_max_kv_groups];
    for (size_t k = 0; k < n_max; ++k) {
        const std::span<const int32_t> blk = tokens.subspan(k * bs, bs);
        const uint64_t h = hash_block(parent_hash, blk);
        bool all = true;
        for (size_t g = 0; g < groups_.size() && all; ++g) {
            const block_node parent = k == 0 ? block_node{} : st.g[g].nodes[k - 1];
            found[g] = groups_[g].alloc.find(h, parent, blk);
            all = found[g] >= 0;
        }
        if (!all) break;
        for (size_t g = 0; g < groups_.size(); ++g) {
            groups_[g].alloc.retain(found[g]);
            st.g[g].table.push_back(found[g]);
            st.g[g].nodes.push_back(groups_[g].alloc.node_of(found[g]));
        }
        st.hashes.push_back(h);
        parent_hash = h;
    }
    const int64_t n_hit = static_cast<int64_t>(st.hashes.size()) * block_size_;
    n_prefix_hit_tokens_ += n_hit;
    return n_hit;
}

void kv_cache_manager::commit_block(seq_state& st, std::span<const int32_t> tokens, int64_t k) {
    const size_t bs = static_cast<size_t>(block_size_);
    const std::span<const int32_t> blk = tokens.subspan(static_cast<size_t>(k) * bs, bs);
    const uint64_t h = hash_block(k == 0 ? k_block_hash_root : st.hashes[static_cast<size_t>(k) - 1], blk);
    for (size_t g = 0; g < groups_.size(); ++g) {
        block_allocator& alloc = groups_[g].alloc;
        seq_group& sg = st.g[g];
        const block_node parent = k == 0 ? block_node{} : sg.nodes[static_cast<size_t>(k) - 1];
        int32_t& b = sg.table[static_cast<size_t>(k)];
        TANDEM_CHECK(b >= 0);
        const int32_t cached = alloc.find(h, parent, blk);
        if (cached >= 0) {  // same contents already cached: share that block, free ours
            alloc.retain(cached);
            alloc.release(b);
            b = cached;
        } else {
            alloc.insert(b, h, parent, blk);
        }
        sg.nodes.push_back(alloc.node_of(b));
    }
    st.hashes.push_back(h);
}

void kv_cache_manager::release_out_of_window(seq_state& st, int64_t n_computed) {
    for (size_t g = 0; g < groups_.size(); ++g) {
        const int64_t window = groups_[g].sliding_window;
        if (window <= 0) continue;
        // Future queries sit at positions >= n_computed - slack (after a rollback) and read keys
        // at positions > q_pos - window.
        const int64_t first_pos = std::max<int64_t>(0, n_computed - sliding_slack_ - window + 1);
        seq_group& sg = st.g[g];
        const int64_t keep_from = std::min<int64_t>(first_pos / block_size_, static_cast<int64_t>(sg.table.size()));
        for (; sg.n_released < keep_from; ++sg.n_released) {
            int32_t& b = sg.table[static_cast<size_t>(sg.n_released)];
            groups_[g].alloc.release(b);
            b = k_released_block;
        }
    }
}

void kv_cache_manager::commit_full_blocks(int64_t seq_id, std::span<const int32_t> tokens, int64_t n_computed) {
    seq_state& st = state(seq_id);
    TANDEM_CHECK(n_computed >= 0 && n_computed <= static_cast<int64_t>(tokens.size()));
    const int64_t n_full = n_computed / block_size_;
    for (size_t g = 0; g < groups_.size(); ++g) {
        TANDEM_CHECK(static_cast<int64_t>(st.g[g].table.size()) >= blocks_for(n_computed, block_size_));
    }
    if (prefix_caching_) {
        for (int64_t k = static_cast<int64_t>(st.hashes.size()); k < n_full; ++k) commit_block(st, tokens, k);
    }
    release_out_of_window(st, n_computed);
}

void kv_cache_manager::truncate(int64_t seq_id, int64_t n_tokens) {
    seq_state& st = state(seq_id);
    TANDEM_CHECK(n_tokens >= static_cast<int64_t>(st.hashes.size()) * block_size_);
    const size_t keep = static_cast<size_t>(blocks_for(n_tokens, block_size_));
    for (size_t g = 0; g < groups_.size(); ++g) {
        seq_group& sg = st.g[g];
        while (sg.table.size() > keep) {
            const int32_t b = sg.table.back();
            sg.table.pop_back();
            if (b != k_released_block) groups_[g].alloc.release(b);
        }
        const int64_t window = groups_[g].sliding_window;
        if (window > 0) {  // the next query (at n_tokens) must still find every key it can see
            const int64_t first_pos = std::max<int64_t>(0, n_tokens - window + 1);
            TANDEM_CHECK(sg.n_released <= first_pos / block_size_);
        }
    }
}

void kv_cache_manager::free_seq(int64_t seq_id) {
    auto it = seqs_.find(seq_id);
    if (it == seqs_.end()) return;
    for (size_t g = 0; g < groups_.size(); ++g) {
        // Tail first: the LRU then evicts a prefix's last blocks before its first ones.
        const std::vector<int32_t>& table = it->second.g[g].table;
        for (auto b = table.rbegin(); b != table.rend(); ++b) {
            if (*b != k_released_block) groups_[g].alloc.release(*b);
        }
    }
    seqs_.erase(it);
}

std::span<const int32_t> kv_cache_manager::block_table(int64_t seq_id, int group) const {
    TANDEM_CHECK(group >= 0 && group < n_groups());
    return state(seq_id).g[group].table;
}

int64_t kv_cache_manager::n_committed_tokens(int64_t seq_id) const {
    return static_cast<int64_t>(state(seq_id).hashes.size()) * block_size_;
}

kv_cache_stats kv_cache_manager::stats() const {
    kv_cache_stats s;
    for (const group& g : groups_) {
        s.n_blocks_total += g.alloc.n_blocks();
        s.n_blocks_used += g.alloc.n_used();
        s.n_blocks_cached_free += g.alloc.n_cached_free();
        s.n_evictions += g.alloc.n_evictions();
    }
    s.n_prefix_query_tokens = n_prefix_query_tokens_;
    s.n_prefix_hit_tokens = n_prefix_hit_tokens_;
    return s;
}

}  // namespace tandem
