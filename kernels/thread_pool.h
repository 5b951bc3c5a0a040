// The compute thread pool: the only place in Tandem that creates compute threads. The calling
// thread works too, so a pool of size 1 runs everything inline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace tandem {

// A borrowed callable of (begin, end): a pointer to the caller's lambda and a trampoline, so a
// parallel_for call allocates nothing (a std::function holding a lambda with more than two captures
// allocates on the heap each time it is made). It must not outlive the call it is passed to.
class range_fn {
  public:
    template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, range_fn>)
        range_fn(F&& f)  // NOLINT: converts implicitly, as std::function did
        : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
          call_([](void* o, int64_t b, int64_t e) { (*static_cast<std::remove_reference_t<F>*>(o))(b, e); }) {}
    void operator()(int64_t begin, int64_t end) const { call_(obj_, begin, end); }

  private:
    void* obj_;
    void (*call_)(void*, int64_t, int64_t);
};

class thread_pool {
  public:
    explicit thread_pool(int n_threads);  // n_threads >= 1; the caller thread counts as one worker
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    int size() const { return n_threads_; }

    // Splits [0, n) into chunks of at least `grain` items and calls fn(begin, end) on the workers;
    // returns when all are done. Calls from inside fn (or while another call runs) execute inline.
    void parallel_for(int64_t n, int64_t grain, range_fn fn);

  private:
    void worker_loop();
    void run_chunks(uint64_t job);

    int n_threads_;
    std::vector<std::thread> workers_;
    std::mutex call_mutex_;  // one parallel_for at a time
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    // The current job in one word: its number (bits 32-63), its chunk count (16-31) and its next
    // unclaimed chunk (0-15). A chunk is claimed by a compare-and-swap on the whole word, so a worker
    // that wakes late, after its job ended, claims nothing and touches nothing. The fields below are
    // set by the caller before it publishes the job in ticket_, and stay put while any chunk of the
    // job is unfinished.
    std::atomic<uint64_t> ticket_{0};
    std::atomic<const range_fn*> fn_{nullptr};
    std::atomic<int64_t> n_{0}, chunk_{1};
    std::atomic<int64_t> n_done_{0};  // chunks of the current job finished
    bool stop_ = false;               // under mutex_
};

}  // namespace tandem
