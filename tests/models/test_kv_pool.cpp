// kv_pool: block geometry per KV type, refusal of bad specs, budget sizing, and resident memory
// that grows with the blocks written (mincore), not with the mapping.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.h"
#include "kernels/thread_pool.h"
#include "models/cpu_backend.h"
#include "models/kv_pool.h"

namespace tandem {
namespace {

kv_group_spec spec_of(int32_t n_layers, int32_t n_heads, int32_t head_dim) {
    kv_group_spec s;
    s.n_layers = n_layers;
    s.n_kv_heads = n_heads;
    s.head_dim = head_dim;
    return s;
}

TEST(kv_pool, block_bytes_per_type) {
    const kv_group_spec s = spec_of(2, 4, 64);
    // 2 layers * (K, V) * 16 tokens * 4 heads * row bytes
    EXPECT_EQ(kv_block_bytes(s, dtype::f16, 16), 2u * 2 * 16 * 4 * 128);
    EXPECT_EQ(kv_block_bytes(s, dtype::q8_0, 16), 2u * 2 * 16 * 4 * (2 * 34));
    EXPECT_EQ(kv_block_bytes(s, dtype::q4_0, 16), 2u * 2 * 16 * 4 * (2 * 18));
}

TEST(kv_pool, refuses_quantized_type_with_odd_head_dim) {
    const kv_group_spec s = spec_of(1, 2, 48);
    EXPECT_NO_THROW(kv_pool(s, dtype::f16, 16, 4));
    for (dtype t : {dtype::q8_0, dtype::q4_0}) {
        try {
            kv_pool p(s, t, 16, 4);
            FAIL() << "expected tandem::error";
        } catch (const error& e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find("head_dim"), std::string::npos) << msg;
            EXPECT_NE(msg.find("48"), std::string::npos) << msg;
            EXPECT_NE(msg.find(dtype_info_of(t).name), std::string::npos) << msg;
        }
    }
}

TEST(kv_pool, refuses_bad_spec_type_and_count) {
    EXPECT_THROW(kv_pool(spec_of(0, 2, 64), dtype::f16, 16, 4), error);
    EXPECT_THROW(kv_pool(spec_of(1, 2, 64), dtype::q4_k, 16, 4), error);
    EXPECT_THROW(kv_pool(spec_of(1, 2, 64), dtype::f16, 0, 4), error);
    EXPECT_THROW(kv_pool(spec_of(1, 2, 64), dtype::f16, 16, 0), error);
}

TEST(kv_pool, view_addresses_follow_the_layout) {
    const kv_group_spec s = spec_of(3, 2, 32);
    kv_pool pool(s, dtype::q8_0, 8, 5);
    const kv_group_view v = pool.view();
    const size_t row = 34, part = 8 * 2 * row;
    EXPECT_EQ(v.row_bytes, row);
    EXPECT_EQ(v.part_bytes, part);
    EXPECT_EQ(v.block_bytes, 3 * 2 * part);
    EXPECT_EQ(v.block_size, 8);
    EXPECT_EQ(v.type, dtype::q8_0);
    EXPECT_EQ(v.k_row(2, 1, 5, 1) - v.base, static_cast<ptrdiff_t>(2 * v.block_bytes + 2 * part + (1 * 8 + 5) * row));
    EXPECT_EQ(v.v_row(2, 1, 5, 1) - v.k_row(2, 1, 5, 1), static_cast<ptrdiff_t>(part));
    // The last row of the last block ends exactly at the end of the pool's data.
    EXPECT_EQ(v.v_row(4, 2, 7, 1) + row - v.base, static_cast<ptrdiff_t>(5 * v.block_bytes));
    EXPECT_GE(pool.mapped_bytes(), 5 * v.block_bytes);
    std::memset(v.base, 0x5a, 5 * v.block_bytes);  // the whole range is writable
}

TEST(kv_pool, sizing_from_budget) {
    const kv_group_spec a = spec_of(2, 4, 64), b = spec_of(1, 2, 128);
    const size_t ba = kv_block_bytes(a, dtype::f16, 16), bb = kv_block_bytes(b, dtype::f16, 16);
    EXPECT_EQ(kv_pool::from_budget(a, dtype::f16, 16, 10 * ba + 5).n_blocks(), 10);
    const kv_group_spec both[] = {a, b};
    EXPECT_EQ(kv_blocks_for_budget(both, dtype::f16, 16, 7 * (ba + bb) + ba), 7);
    EXPECT_THROW(kv_pool::from_budget(a, dtype::f16, 16, ba - 1), error);
}

TEST(kv_pool, move_transfers_ownership) {
    kv_pool a(spec_of(1, 1, 32), dtype::f16, 16, 3);
    uint8_t* base = a.view().base;
    kv_pool b(std::move(a));
    EXPECT_EQ(b.view().base, base);
    EXPECT_EQ(a.data(), nullptr);
    kv_pool c(spec_of(1, 1, 32), dtype::f16, 16, 1);
    c = std::move(b);
    EXPECT_EQ(c.view().base, base);
    EXPECT_EQ(c.n_blocks(), 3);
}

size_t resident_bytes(const kv_pool& pool) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec(pool.mapped_bytes() / page);
    EXPECT_EQ(mincore(const_cast<uint8_t*>(pool.data()), pool.mapped_bytes(), vec.data()), 0);
    size_t n = 0;
    for (unsigned char c : vec) n += c & 1;
    return n * page;
}

TEST(kv_pool, resident_memory_grows_with_blocks_written) {
    const kv_group_spec s = spec_of(2, 4, 64);  // 32 KiB blocks
    kv_pool pool(s, dtype::f16, 16, 4096);      // 128 MiB of address space
    const kv_group_view v = pool.view();
    const size_t huge = 2u << 20;  // transparent huge pages may round up to 2 MiB
    EXPECT_LE(resident_bytes(pool), huge);

    int32_t next = 0;
    auto write_blocks = [&](int n) {
        for (int i = 0; i < n; ++i) {
            const int32_t b = next++;
            std::memset(v.base + static_cast<size_t>(b) * v.block_bytes, 1, v.block_bytes);
        }
    };
    write_blocks(16);
    size_t r = resident_bytes(pool);
    EXPECT_GE(r, 16 * v.block_bytes);
    EXPECT_LE(r, 16 * v.block_bytes + huge);
    write_blocks(1024 - 16);
    r = resident_bytes(pool);
    EXPECT_GE(r, 1024 * v.block_bytes);
    EXPECT_LE(r, 1024 * v.block_bytes + huge);
    EXPECT_LT(r, pool.mapped_bytes() / 3);
}

// The CPU backend allocates its KV pools itself (backend::alloc_kv): kv_bytes() is their mapping,
// a second call replaces them, and bad geometry is refused as kv_pool refuses it.
TEST(kv_pool, the_cpu_backend_allocates_its_pools) {
    thread_pool threads(1);
    cpu_backend be(threads);
    const std::vector<kv_group_spec> specs{spec_of(2, 2, 64), spec_of(1, 1, 128)};
    be.alloc_kv(specs, dtype::f16, 16, 10);
    EXPECT_EQ(be.kv_bytes(), kv_pool(specs[0], dtype::f16, 16, 10).mapped_bytes() +
                                 kv_pool(specs[1], dtype::f16, 16, 10).mapped_bytes());
    be.alloc_kv(specs, dtype::q8_0, 16, 1000);
    EXPECT_EQ(be.kv_bytes(), kv_pool(specs[0], dtype::q8_0, 16, 1000).mapped_bytes() +
                                 kv_pool(specs[1], dtype::q8_0, 16, 1000).mapped_bytes());
    EXPECT_THROW(be.alloc_kv(specs, dtype::q4_k, 16, 10), error);
    EXPECT_THROW(be.alloc_kv(specs, dtype::f16, 16, 0), error);
}

}  // namespace
}  // namespace tandem
