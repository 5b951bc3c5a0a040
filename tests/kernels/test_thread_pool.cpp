// The thread pool: every index visited exactly once, chunk sizes respect the grain, nesting runs inline.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "common/error.h"
#include "kernels/thread_pool.h"

// Every heap allocation of this test binary is counted, so a test can show a call allocates nothing.
namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}

namespace tandem {
namespace {

// A decode step issues hundreds of parallel_for calls; they must not allocate, whatever the lambda
// captures (a std::function would for more than two pointers' worth).
TEST(ThreadPool, CallsDoNotAllocate) {
    thread_pool pool(2);
    std::vector<int64_t> a(4096), b(4096), c(4096);
    int64_t x = 1, y = 2, z = 3;
    auto step = [&] {
        pool.parallel_for(4096, 64, [&a, &b, &c, x, y, z](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) a[i] = b[i] * x + c[i] * y + z;
        });
    };
    step();  // the workers exist and have run once
    const int64_t before = g_allocations.load();
    for (int rep = 0; rep < 1000; ++rep) step();
    EXPECT_EQ(g_allocations.load() - before, 0);
}

TEST(ThreadPool, CoversEveryIndexOnce) {
    for (int n_threads : {1, 2, 3}) {
        thread_pool pool(n_threads);
        EXPECT_EQ(pool.size(), n_threads);
        for (int64_t n : {0, 1, 5, 64, 1000, 4097}) {
            for (int64_t grain : {1, 7, 100}) {
                std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
                std::atomic<bool> small_chunk{false};
                pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
                    if (e - b < grain && e != n) small_chunk = true;
                    for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
                });
                for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << grain;
                EXPECT_FALSE(small_chunk.load());
            }
        }
    }
}

TEST(ThreadPool, UsesSeveralThreadsAndNestsInline) {
    thread_pool pool(2);
    std::atomic<int64_t> sum{0};
    for (int rep = 0; rep < 200; ++rep) {
        pool.parallel_for(100, 1, [&](int64_t b, int64_t e) {
            pool.parallel_for(e - b, 1, [&](int64_t b2, int64_t e2) { sum += e2 - b2; });
        });
    }
    EXPECT_EQ(sum.load(), 200 * 100);
}

// Jobs back to back, with pauses long enough for the workers to fall asleep between some of them, so
// workers wake late, find their job over or half done, and must neither run a chunk twice nor run one
// of a job that has ended (each job checks its own sum; a chunk run after its job returned would
// write to a vector that no longer exists, which ASan reports).
TEST(ThreadPool, LateWorkersClaimNothingOfAnEndedJob) {
    thread_pool pool(3);
    std::mt19937 rng(11);
    for (int job = 0; job < 3000; ++job) {
        const auto n = static_cast<int64_t>(rng() % 200);
        auto hits = std::make_unique<std::vector<std::atomic<int>>>(static_cast<size_t>(n));
        pool.parallel_for(n, 1 + static_cast<int64_t>(rng() % 4), [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) (*hits)[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ((*hits)[static_cast<size_t>(i)].load(), 1) << "job " << job;
        hits.reset();
        if (job % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // past the spin
    }
}

TEST(ThreadPool, RejectsZeroThreads) {
    EXPECT_THROW(thread_pool(0), error);
}

}  // namespace
}  // namespace tandem
