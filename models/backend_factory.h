// The one place that knows devices: a --device value opens the CPU (the kernels' thread pool) or
// one Vulkan device, and backends are made on it (an anchor and a draft model share one device).
// The engine holds a compute_device and the backends it made, and names no device itself.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "kernels/thread_pool.h"
#include "kernels/types.h"
#include "models/backend.h"
#include "models/kv_view.h"

namespace tandem {

struct vulkan_device;

class compute_device {
  public:
    // spec: "cpu" (or empty), "vulkan" or "vulkan:N"; n_threads 0: one per core. Throws
    // tandem::error naming the devices there are, or why the device does not open (no driver).
    compute_device(const std::string& spec, int n_threads);
    ~compute_device();
    compute_device(const compute_device&) = delete;
    compute_device& operator=(const compute_device&) = delete;

    std::unique_ptr<backend> make_backend();
    // The most blocks per group that one KV pool on this device holds (a device pool is one
    // buffer, capped by the buffer range); no limit on the CPU.
    int64_t max_kv_blocks(std::span<const kv_group_spec> specs, dtype type, int32_t block_size) const;
    // "cpu", or "vulkan:0 llvmpipe (...), 384 MiB of device memory reserved, up to ..." (for the log).
    std::string description() const;
    thread_pool& pool() { return *pool_; }  // the CPU kernels' threads (also a benchmark's triad)

  private:
    std::unique_ptr<thread_pool> pool_;
    std::shared_ptr<vulkan_device> vulkan_;  // null on the CPU
};

}  // namespace tandem
