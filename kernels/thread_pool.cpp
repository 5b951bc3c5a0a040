// A fork-join pool: workers spin briefly after a job (decode steps issue many small matmuls back to
// back), then sleep on a condition variable. Chunks are claimed dynamically, and the caller waits
// for the chunks, not for the workers: a job whose chunks the caller ran alone ends at once, whether
// or not a worker woke up for it. (Waiting for every worker to check in cost a whole futex wake-up
// per job whenever a worker had gone to sleep, and under CPU contention the pool fell into lockstep,
// each side asleep just when the other needed it: stories260K's decode step went from 0.1 to 44 ms.)
#include "kernels/thread_pool.h"

#include <algorithm>

#include "common/check.h"
#include "common/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tandem {
namespace {

thread_local bool t_in_pool_job = false;

// About 0.5 ms of spinning on the machines measured (a PAUSE is ~28 ns on Zen 3).
constexpr int k_spins = 20000;

void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

uint64_t job_of(uint64_t ticket) {
    return ticket >> 32;
}
int64_t chunks_of(uint64_t ticket) {
    return static_cast<int64_t>((ticket >> 16) & 0xffffu);
}
int64_t next_of(uint64_t ticket) {
    return static_cast<int64_t>(ticket & 0xffffu);
}

}  // namespace

thread_pool::thread_pool(int n_threads) : n_threads_(n_threads) {
    if (n_threads < 1) throw error("thread_pool: n_threads must be >= 1, got " + std::to_string(n_threads));
    workers_.reserve(static_cast<size_t>(n_threads - 1));
    for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

thread_pool::~thread_pool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

// Claims and runs chunks of job `job` until none is left (or the job is no longer current).
void thread_pool::run_chunks(uint64_t job) {
    t_in_pool_job = true;
    uint64_t t = ticket_.load(std::memory_order_acquire);
    for (;;) {
        // The bound comes from the same word as the claim: a stale ticket is checked against its own
        // job's chunk count, never against a newer job's.
        if (job_of(t) != job || next_of(t) >= chunks_of(t)) break;
        if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        // Chunk next_of(t) is ours: until it is counted done, the job's fields cannot change.
        const int64_t chunk = chunk_.load(std::memory_order_relaxed), begin = next_of(t) * chunk;
        (*fn_.load(std::memory_order_relaxed))(begin, std::min(n_.load(std::memory_order_relaxed), begin + chunk));
        if (n_done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks_of(t)) {
            std::lock_guard lock(mutex_);  // the caller tests n_done_ under mutex_ before it sleeps
            done_.notify_one();
        }
        t = ticket_.load(std::memory_order_acquire);
    }
    t_in_pool_job = false;
}

void thread_pool::worker_loop() {
    uint64_t seen = 0;
    for (;;) {
        // Spin a little: the next job of a decode step usually follows within microseconds.
        for (int spin = 0; spin < k_spins && job_of(ticket_.load(std::memory_order_acquire)) == seen; ++spin)
            cpu_relax();
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stop_ || job_of(ticket_.load(std::memory_order_acquire)) != seen; });
            if (stop_) return;
            seen = job_of(ticket_.load(std::memory_order_acquire));
        }
        run_chunks(seen);
    }
}

void thread_pool::parallel_for(int64_t n, int64_t grain, range_fn fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    // Inline when nested, when alone, or when the work is a single chunk.
    std::unique_lock call_lock(call_mutex_, std::defer_lock);
    if (t_in_pool_job || n_threads_ == 1 || n <= grain || !call_lock.try_lock()) {
        fn(0, n);
        return;
    }
    // About 4 chunks per thread balance load without many claims.
    const int64_t target = (n + 4 * n_threads_ - 1) / (4 * n_threads_);
    const int64_t chunk = std::max(grain, target), n_chunks = (n + chunk - 1) / chunk;
    TANDEM_CHECK(n_chunks <= 0xffff);  // at most 4 per thread
    // No chunk of the previous job is unclaimed or unfinished, so no worker reads these now.
    fn_.store(&fn, std::memory_order_relaxed);
    n_.store(n, std::memory_order_relaxed);
    chunk_.store(chunk, std::memory_order_relaxed);
    n_done_.store(0, std::memory_order_relaxed);
    const uint64_t job = (job_of(ticket_.load(std::memory_order_relaxed)) + 1) & 0xffffffffu;
    {
        std::lock_guard lock(mutex_);  // a worker tests the ticket under mutex_ before it sleeps
        ticket_.store(job << 32 | static_cast<uint64_t>(n_chunks) << 16, std::memory_order_release);
    }
    wake_.notify_all();
    run_chunks(job);
    // Wait for the chunks workers claimed. Spin a little first: they usually finish within
    // microseconds of the caller, and a futex sleep and wake-up costs more than that.
    for (int spin = 0; spin < k_spins && n_done_.load(std::memory_order_acquire) != n_chunks; ++spin) cpu_relax();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return n_done_.load(std::memory_order_acquire) == n_chunks; });
}

}  // namespace tandem
