// A fork-join pool: workers spin briefly after a job (decode steps issue many small matmuls back to
// back), then sleep on a condition variable. Chunks are claimed dynamically from an atomic counter.
#include "kernels/thread_pool.h"

#include <algorithm>

#include "common/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tandem {
namespace {

thread_local bool t_in_pool_job = false;

void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
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
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void thread_pool::run_chunks() {
    t_in_pool_job = true;
    for (;;) {
        const int64_t c = next_chunk_.fetch_add(1, std::memory_order_relaxed);
        if (c >= n_chunks_) break;
        const int64_t begin = c * chunk_;
        (*fn_)(begin, std::min(n_, begin + chunk_));
    }
    t_in_pool_job = false;
}

void thread_pool::worker_loop() {
    uint64_t seen = 0;
    for (;;) {
        // Spin a little: the next job of a decode step usually follows within microseconds.
        for (int spin = 0; spin < 20000 && generation_.load(std::memory_order_acquire) == seen; ++spin) cpu_relax();
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return generation_.load() != seen; });
            seen = generation_.load();
            if (stop_) return;
        }
        run_chunks();
        if (n_busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            std::lock_guard lock(mutex_);  // the caller tests n_busy_ under mutex_ before it sleeps
            done_.notify_one();
        }
    }
}

void thread_pool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
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
    const int64_t chunk = std::max(grain, target);
    {
        std::lock_guard lock(mutex_);
        fn_ = &fn;
        n_ = n;
        chunk_ = chunk;
        n_chunks_ = (n + chunk - 1) / chunk;
        next_chunk_.store(0);
        n_busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_chunks();
    // Spin a little before sleeping: the workers usually finish within microseconds of the caller,
    // and a futex sleep and wake-up costs more than that, once per matmul of a decode step.
    for (int spin = 0; spin < 20000 && n_busy_.load(std::memory_order_acquire) != 0; ++spin) cpu_relax();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return n_busy_.load(std::memory_order_acquire) == 0; });
    fn_ = nullptr;
}

}  // namespace tandem
