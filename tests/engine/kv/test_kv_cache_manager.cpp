// kv_cache_manager driven by hand, no model: all-or-nothing allocation, prefix hits across
// sequences with shared reference counts, eviction, truncate, free, hash collisions through an
// injected weak hash, and sliding-window release.
#include <algorithm>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kv/kv_cache_manager.h"

namespace tandem {
namespace {

constexpr int32_t bs = 4;

kv_cache_config config(std::vector<kv_cache_group_config> groups, int32_t slack = 0) {
    kv_cache_config c;
    c.block_size = bs;
    c.groups = std::move(groups);
    c.sliding_slack = slack;
    return c;
}

std::vector<int32_t> seq_tokens(int32_t first, int32_t n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

std::vector<int32_t> table(const kv_cache_manager& m, int64_t seq, int g = 0) {
    const auto s = m.block_table(seq, g);
    return {s.begin(), s.end()};
}

// Admits, computes and commits a whole prompt, as the engine would after its prefill.
void run_prompt(kv_cache_manager& m, int64_t seq, const std::vector<int32_t>& t) {
    m.match_prefix(seq, t);
    ASSERT_TRUE(m.allocate_slots(seq, static_cast<int64_t>(t.size())));
    m.commit_full_blocks(seq, t, static_cast<int64_t>(t.size()));
}

TEST(kv_cache_manager, allocation_grows_tables_and_fails_without_partial_changes) {
    kv_cache_manager m(config({{8, 0}, {12, 0}}));
    ASSERT_TRUE(m.allocate_slots(1, 5));
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1}));
    ASSERT_TRUE(m.allocate_slots(1, 8));  // still two blocks
    ASSERT_TRUE(m.allocate_slots(1, 9));
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1, 2}));
    EXPECT_EQ(table(m, 1, 1), (std::vector<int32_t>{0, 1, 2}));
    ASSERT_TRUE(m.allocate_slots(2, 12));  // group 0 now full-ish: 6 of 8 used
    const kv_cache_stats before = m.stats();
    // Group 0 has 2 free blocks, group 1 has 6: a 4-block request fits group 1 only -> nothing changes.
    EXPECT_FALSE(m.can_allocate(3, 16));
    EXPECT_FALSE(m.allocate_slots(3, 16));
    EXPECT_FALSE(m.has_seq(3));
    EXPECT_FALSE(m.allocate_slots(1, 9 + 3 * bs));
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1, 2}));
    EXPECT_EQ(table(m, 1, 1), (std::vector<int32_t>{0, 1, 2}));
    const kv_cache_stats after = m.stats();
    EXPECT_EQ(after.n_blocks_used, before.n_blocks_used);
    EXPECT_EQ(after.n_blocks_used, 12);
    EXPECT_EQ(after.n_blocks_total, 20);
    ASSERT_TRUE(m.allocate_slots(1, 9 + 2 * bs));  // exactly the last two blocks of group 0
    EXPECT_EQ(m.allocator(0).n_free(), 0);
}

TEST(kv_cache_manager, prefix_hits_across_sequences_share_blocks) {
    kv_cache_manager m(config({{16, 0}}));
    const std::vector<int32_t> a = seq_tokens(100, 10);  // blocks [100..103] [104..107] + 2 tokens
    EXPECT_EQ(m.match_prefix(1, a), 0);
    ASSERT_TRUE(m.allocate_slots(1, 10));
    m.commit_full_blocks(1, a, 10);
    EXPECT_EQ(m.n_committed_tokens(1), 8);
    const std::vector<int32_t> ta = table(m, 1);

    std::vector<int32_t> b = seq_tokens(100, 9);
    b.push_back(7);
    b.push_back(8);  // shares 9 tokens: two full blocks
    EXPECT_EQ(m.match_prefix(2, b), 8);
    EXPECT_EQ(table(m, 2), (std::vector<int32_t>{ta[0], ta[1]}));
    EXPECT_EQ(m.allocator(0).ref_count(ta[0]), 2);
    EXPECT_EQ(m.allocator(0).ref_count(ta[1]), 2);
    EXPECT_EQ(m.allocator(0).ref_count(ta[2]), 1);
    ASSERT_TRUE(m.allocate_slots(2, 11));
    EXPECT_EQ(m.block_table(2, 0)[2], 3);  // a fresh block for the unshared tail

    // A prompt that is exactly two cached blocks: the last block is recomputed for its logits.
    EXPECT_EQ(m.match_prefix(3, seq_tokens(100, 8)), 4);
    // A different first block: no hit.
    EXPECT_EQ(m.match_prefix(4, seq_tokens(101, 12)), 0);
    const kv_cache_stats s = m.stats();
    EXPECT_EQ(s.n_prefix_hit_tokens, 12);
    EXPECT_EQ(s.n_prefix_query_tokens, 10 + 11 + 8 + 12);
}

TEST(kv_cache_manager, free_drops_references_and_keeps_cached_blocks) {
    kv_cache_manager m(config({{16, 0}}));
    const std::vector<int32_t> a = seq_tokens(0, 10);
    run_prompt(m, 1, a);
    run_prompt(m, 2, a);  // hits 8 tokens, owns one block of its own
    const std::vector<int32_t> ta = table(m, 1);
    EXPECT_EQ(m.stats().n_blocks_used, 4);
    m.free_seq(1);
    EXPECT_FALSE(m.has_seq(1));
    EXPECT_EQ(m.allocator(0).ref_count(ta[0]), 1);
    EXPECT_EQ(m.allocator(0).ref_count(ta[2]), 0);
    EXPECT_EQ(m.stats().n_blocks_used, 3);
    m.free_seq(2);
    m.free_seq(2);  // unknown id: no-op
    const kv_cache_stats s = m.stats();
    EXPECT_EQ(s.n_blocks_used, 0);
    EXPECT_EQ(s.n_blocks_cached_free, 2);  // the two full blocks stay in the prefix cache
    EXPECT_EQ(m.allocator(0).n_free(), 16);
    EXPECT_EQ(m.match_prefix(3, a), 8);  // ... and still serve hits after everyone left
    EXPECT_EQ(m.stats().n_blocks_cached_free, 0);
}

TEST(kv_cache_manager, eviction_takes_the_tail_of_a_released_prefix_first) {
    kv_cache_manager m(config({{6, 0}}));
    const std::vector<int32_t> a = seq_tokens(0, 13);  // three full blocks + 1 token
    run_prompt(m, 1, a);
    m.free_seq(1);
    EXPECT_EQ(m.stats().n_blocks_cached_free, 3);
    // Blocks 3..5 were never cached: they go first; the fourth block evicts the LRU head, which
    // is the prefix's last block (free_seq releases tails first).
    ASSERT_TRUE(m.allocate_slots(2, 3 * bs));
    EXPECT_EQ(m.stats().n_evictions, 0);
    ASSERT_TRUE(m.allocate_slots(2, 4 * bs));
    EXPECT_EQ(m.stats().n_evictions, 1);
    EXPECT_EQ(m.match_prefix(3, a), 2 * bs);  // the third block went first
    EXPECT_FALSE(m.allocate_slots(4, bs));    // the two hits are referenced now: nothing to evict
    m.free_seq(3);
    m.free_seq(2);
    ASSERT_TRUE(m.allocate_slots(5, 6 * bs));  // everything, evicting the rest of the cache
    EXPECT_EQ(m.stats().n_blocks_cached_free, 0);
    EXPECT_EQ(m.stats().n_evictions, 3);
    m.free_seq(5);
    EXPECT_EQ(m.match_prefix(6, a), 0);
}

TEST(kv_cache_manager, truncate_drops_whole_blocks_past_the_end) {
    kv_cache_manager m(config({{8, 0}}));
    const std::vector<int32_t> t = seq_tokens(0, 16);
    ASSERT_TRUE(m.allocate_slots(1, 14));  // four blocks: 0 1 2 3
    m.commit_full_blocks(1, t, 8);
    m.truncate(1, 9);
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1, 2}));
    m.truncate(1, 12);  // no-op inside the table
    EXPECT_EQ(table(m, 1).size(), 3u);
    m.truncate(1, 8);
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(m.stats().n_blocks_used, 2);
    ASSERT_TRUE(m.allocate_slots(1, 9));
    EXPECT_EQ(table(m, 1), (std::vector<int32_t>{0, 1, 2}));  // lowest free id comes back
}

TEST(kv_cache_manager_death, truncate_into_a_committed_block_aborts) {
    kv_cache_manager m(config({{8, 0}}));
    const std::vector<int32_t> t = seq_tokens(0, 8);
    ASSERT_TRUE(m.allocate_slots(1, 8));
    m.commit_full_blocks(1, t, 8);
    EXPECT_DEATH(m.truncate(1, 7), "check failed");
}

TEST(kv_cache_manager, identical_blocks_computed_twice_are_deduplicated_on_commit) {
    kv_cache_manager m(config({{8, 0}}));
    const std::vector<int32_t> t = seq_tokens(50, 9);
    EXPECT_EQ(m.match_prefix(1, t), 0);
    EXPECT_EQ(m.match_prefix(2, t), 0);  // admitted before 1 committed anything
    ASSERT_TRUE(m.allocate_slots(1, 9));
    ASSERT_TRUE(m.allocate_slots(2, 9));
    EXPECT_EQ(m.stats().n_blocks_used, 6);
    m.commit_full_blocks(1, t, 9);
    m.commit_full_blocks(2, t, 9);
    const std::vector<int32_t> t1 = table(m, 1), t2 = table(m, 2);
    EXPECT_EQ(t2[0], t1[0]);
    EXPECT_EQ(t2[1], t1[1]);
    EXPECT_NE(t2[2], t1[2]);
    EXPECT_EQ(m.stats().n_blocks_used, 4);
    EXPECT_EQ(m.allocator(0).ref_count(t1[0]), 2);
}

uint64_t constant_hash(uint64_t, std::span<const int32_t>) {
    return 42;
}

TEST(kv_cache_manager, weak_hash_collisions_never_produce_wrong_hits) {
    kv_cache_config c = config({{32, 0}});
    c.hash_fn = &constant_hash;  // every block of every prefix collides
    kv_cache_manager m(c);
    run_prompt(m, 1, {1, 2, 3, 4, 5, 6, 7, 8, 0});
    run_prompt(m, 2, {9, 9, 9, 9, 0});
    // Same second block after a different (cached, colliding) first block: only 4 tokens match.
    EXPECT_EQ(m.match_prefix(3, std::vector<int32_t>{9, 9, 9, 9, 5, 6, 7, 8, 0}), 4);
    EXPECT_EQ(m.match_prefix(4, std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 9, 0}), 4);
    EXPECT_EQ(m.match_prefix(5, std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 1, 1}), 8);
    EXPECT_EQ(m.match_prefix(6, std::vector<int32_t>{2, 2, 3, 4, 5}), 0);
    EXPECT_EQ(table(m, 3)[0], table(m, 2)[0]);
    EXPECT_EQ(table(m, 5), (std::vector<int32_t>{table(m, 1)[0], table(m, 1)[1]}));
}

TEST(kv_cache_manager, prefix_hits_need_every_group) {
    kv_cache_manager m(config({{16, 0}, {3, 0}}));
    const std::vector<int32_t> a = seq_tokens(0, 9);
    run_prompt(m, 1, a);
    m.free_seq(1);
    ASSERT_TRUE(m.allocate_slots(2, 1));  // group 1: 1 never-cached block left, so this takes it ...
    ASSERT_TRUE(m.allocate_slots(3, 1));  // ... and this evicts the tail block (4..7) of group 1
    EXPECT_EQ(m.match_prefix(4, a), 4);   // group 0 still has both blocks cached
    EXPECT_NE(table(m, 4, 0)[0], k_released_block);
    EXPECT_EQ(table(m, 4, 1).size(), 1u);
}

TEST(kv_cache_manager, sliding_group_releases_blocks_outside_window_plus_slack) {
    const int32_t window = 8, slack = 3;
    kv_cache_manager m(config({{64, 0}, {64, window}}, slack));
    const std::vector<int32_t> t = seq_tokens(0, 64);
    for (int64_t n = 1; n <= 60; ++n) {
        ASSERT_TRUE(m.allocate_slots(1, n + 1));
        m.commit_full_blocks(1, t, n);
        // Every key any future query can read (query positions >= n - slack after a rollback)
        // is still backed by a block; everything older is released.
        const auto full = m.block_table(1, 0), swa = m.block_table(1, 1);
        for (int64_t p = 0; p < n; ++p) EXPECT_GE(full[static_cast<size_t>(p / bs)], 0);
        const int64_t first_needed = std::max<int64_t>(0, n - slack - window + 1);
        for (int64_t p = first_needed; p < n; ++p) ASSERT_GE(swa[static_cast<size_t>(p / bs)], 0) << n << " " << p;
        for (int64_t b = 0; b < first_needed / bs; ++b) EXPECT_EQ(swa[static_cast<size_t>(b)], k_released_block);
    }
    // At n = 60: keys from 50 on stay, so blocks 0..11 are released and 12..15 kept.
    EXPECT_EQ(m.allocator(1).n_used(), 16 - 12);
    EXPECT_EQ(m.allocator(0).n_used(), 16);
    ASSERT_TRUE(m.allocate_slots(1, 64));  // drafts at 61..63, then all rejected
    m.truncate(1, 61);
    EXPECT_EQ(m.block_table(1, 1).size(), 16u);
    m.free_seq(1);
    EXPECT_EQ(m.stats().n_blocks_used, 0);
    // Released sliding blocks stayed cached: a new prompt with the same prefix hits in both groups.
    EXPECT_EQ(m.match_prefix(2, t), 60);
}

TEST(kv_cache_manager, prefix_caching_can_be_disabled) {
    kv_cache_config c = config({{8, 0}});
    c.enable_prefix_caching = false;
    kv_cache_manager m(c);
    run_prompt(m, 1, seq_tokens(0, 9));
    m.free_seq(1);
    EXPECT_EQ(m.match_prefix(2, seq_tokens(0, 9)), 0);
    EXPECT_EQ(m.stats().n_blocks_cached_free, 0);
}

}  // namespace
}  // namespace tandem
