// compute_device: --device to a backend (cpu_backend on the thread pool, or vulkan_backend on one
// open Vulkan device with its on-disk pipeline cache).
#include "models/backend_factory.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

#include "kernels/vulkan/vk_device.h"
#include "models/cpu_backend.h"
#include "models/vulkan_backend.h"

namespace tandem {
namespace {

// Where the driver's compiled pipelines are kept between runs: systemd's CacheDirectory= (the GPU
// drop-in sets it), else $XDG_CACHE_HOME/tandem or ~/.cache/tandem; "" (no disk cache) when none of
// them can be made.
std::string pipeline_cache_file(const vk::device_info& d) {
    std::filesystem::path dir;
    if (const char* c = std::getenv("CACHE_DIRECTORY")) {
        dir = std::string(c).substr(0, std::string(c).find(':'));
    } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
        dir = std::filesystem::path(x) / "tandem";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
        dir = std::filesystem::path(h) / ".cache" / "tandem";
    } else {
        return "";
    }
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return "";
    return (dir / ("vulkan-pipelines-" + std::to_string(d.index) + ".bin")).string();
}

}  // namespace

compute_device::compute_device(const std::string& spec, int n_threads) {
    const int n = n_threads > 0 ? n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    pool_ = std::make_unique<thread_pool>(n);
    if (!spec.empty() && spec != "cpu") {
        const vk::device_info d = vk::pick_device(spec);
        vulkan_ = std::make_shared<vulkan_device>(d, pipeline_cache_file(d));
    }
}

compute_device::~compute_device() = default;

std::unique_ptr<backend> compute_device::make_backend() {
    if (vulkan_) return std::make_unique<vulkan_backend>(vulkan_);
    return std::make_unique<cpu_backend>(*pool_);
}

int64_t compute_device::max_kv_blocks(std::span<const kv_group_spec> specs, dtype type, int32_t block_size) const {
    if (!vulkan_) return std::numeric_limits<int64_t>::max();
    return vulkan_backend::max_kv_blocks(*vulkan_, specs, type, block_size);
}

std::string compute_device::description() const {
    if (!vulkan_) return "cpu";
    const vk::device_info& d = vulkan_->ctx.info();
    return "vulkan:" + std::to_string(d.index) + " " + d.name + ", " +
           std::to_string(vulkan_->device_mem.bytes_reserved() >> 20) + " MiB of device memory reserved, up to " +
           vulkan_->device_mem.limit_source();
}

}  // namespace tandem
