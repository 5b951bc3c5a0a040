// The thread pool: every index visited exactly once, chunk sizes respect the grain, nesting runs inline.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "common/error.h"
#include "kernels/thread_pool.h"

namespace tandem {
namespace {

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
