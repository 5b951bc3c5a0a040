// block_allocator: lowest-id-first free list, reference counts, the verified hash table (with
// forced collisions) and LRU eviction of unreferenced cached blocks.
#include <map>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/kv/block_allocator.h"

namespace tandem {
namespace {

std::vector<int32_t> toks(int32_t a, int32_t b) {
    return {a, b};
}

TEST(block_allocator, hands_out_lowest_free_id_first) {
    block_allocator a(6, 2);
    EXPECT_EQ(a.allocate(), 0);
    EXPECT_EQ(a.allocate(), 1);
    EXPECT_EQ(a.allocate(), 2);
    EXPECT_EQ(a.allocate(), 3);
    a.release(2);
    a.release(0);
    EXPECT_EQ(a.n_free(), 4);
    EXPECT_EQ(a.n_used(), 2);
    EXPECT_EQ(a.allocate(), 0);
    EXPECT_EQ(a.allocate(), 2);
    EXPECT_EQ(a.allocate(), 4);
}

TEST(block_allocator, reference_counts) {
    block_allocator a(2, 2);
    const int32_t b = a.allocate();
    a.insert(b, 7, block_node{}, toks(1, 2));
    a.retain(b);
    EXPECT_EQ(a.ref_count(b), 2);
    a.release(b);
    EXPECT_EQ(a.ref_count(b), 1);
    EXPECT_EQ(a.n_cached_free(), 0);
    a.release(b);
    EXPECT_EQ(a.ref_count(b), 0);
    EXPECT_EQ(a.n_cached_free(), 1);  // unreferenced but still cached ...
    EXPECT_EQ(a.n_free(), 2);         // ... and still allocatable
    EXPECT_EQ(a.find(7, block_node{}, toks(1, 2)), b);
    a.retain(b);  // a prefix hit picks it up again
    EXPECT_EQ(a.n_cached_free(), 0);
    EXPECT_EQ(a.n_used(), 1);
}

TEST(block_allocator, lookup_compares_tokens_and_parent_not_just_the_hash) {
    block_allocator a(4, 2);
    const int32_t x = a.allocate(), y = a.allocate(), z = a.allocate();
    a.insert(x, 5, block_node{}, toks(1, 2));
    a.insert(y, 5, block_node{}, toks(3, 4));  // same hash, other tokens
    a.insert(z, 5, a.node_of(x), toks(1, 2));  // same hash and tokens, other parent
    EXPECT_EQ(a.find(5, block_node{}, toks(1, 2)), x);
    EXPECT_EQ(a.find(5, block_node{}, toks(3, 4)), y);
    EXPECT_EQ(a.find(5, a.node_of(x), toks(1, 2)), z);
    EXPECT_EQ(a.find(5, block_node{}, toks(1, 3)), -1);
    EXPECT_EQ(a.find(6, block_node{}, toks(1, 2)), -1);
}

TEST(block_allocator, evicts_least_recently_released_only_when_free_list_is_empty) {
    block_allocator a(4, 2);
    int32_t b[3];
    for (int i = 0; i < 3; ++i) {
        b[i] = a.allocate();
        a.insert(b[i], 100 + i, block_node{}, toks(i, i));
    }
    a.release(b[2]);
    a.release(b[0]);
    a.release(b[1]);
    EXPECT_EQ(a.n_cached_free(), 3);
    EXPECT_EQ(a.allocate(), 3);  // the never-cached block goes first, nothing evicted
    EXPECT_EQ(a.n_evictions(), 0);
    const block_node old_node = a.node_of(b[2]);
    EXPECT_EQ(a.allocate(), b[2]);  // then LRU order: 2, 0, 1
    EXPECT_EQ(a.find(102, block_node{}, toks(2, 2)), -1);
    EXPECT_FALSE(a.is_cached(b[2]));
    EXPECT_EQ(a.find(100, block_node{}, toks(0, 0)), b[0]);
    // A re-cached block gets a new identity: children of the evicted contents cannot match it.
    a.insert(b[2], 102, block_node{}, toks(2, 2));
    EXPECT_NE(a.node_of(b[2]), old_node);
    EXPECT_EQ(a.allocate(), b[0]);
    EXPECT_EQ(a.allocate(), b[1]);
    EXPECT_EQ(a.n_free(), 0);
    EXPECT_EQ(a.n_evictions(), 3);
}

// Random inserts and evictions under a handful of hash values (long collision runs in the open
// addressing table, exercising backward-shift deletion), checked against a std::map model.
TEST(block_allocator, hash_table_survives_heavy_collisions) {
    const int32_t n = 64;
    block_allocator a(n, 2);
    std::mt19937 rng(1234);
    std::map<int32_t, std::pair<uint64_t, int32_t>> model;  // block -> (hash, token)
    int32_t next_token = 0;
    for (int round = 0; round < 2000; ++round) {
        if (a.n_free() > 0 && (rng() % 3 != 0 || model.empty())) {
            const int32_t b = a.allocate();  // may evict the LRU cached block
            model.erase(b);
            for (auto it = model.begin(); it != model.end();) {
                it = a.is_cached(it->first) ? std::next(it) : model.erase(it);
            }
            const uint64_t h = rng() % 5;
            const int32_t t = next_token++;
            a.insert(b, h, block_node{}, toks(t, t));
            model[b] = {h, t};
            a.release(b);
        } else {
            auto it = std::next(model.begin(), static_cast<long>(rng() % model.size()));
            a.retain(it->first);  // touch: moves it to the LRU tail
            a.release(it->first);
        }
        if (round % 50 == 0) {
            for (const auto& [b, ht] : model) {
                ASSERT_EQ(a.find(ht.first, block_node{}, toks(ht.second, ht.second)), b) << "round " << round;
            }
        }
    }
    EXPECT_GT(a.n_evictions(), 100);
}

}  // namespace
}  // namespace tandem
