// Compute pipelines from the SPIR-V compiled at build time (kernels/vulkan/shaders/*.comp, by glslc)
// and embedded in the binary: created once per (shader, specialization constants) and kept, through
// a VkPipelineCache that is read from and written back to disk when a path is given, so a restart
// skips the driver's shader compilation.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/embedded_file.h"

namespace tandem::vk {

class context;

// The embedded SPIR-V modules, named as their source file without .comp ("matmul_f32").
std::span<const embedded_file> embedded_shaders();
std::vector<std::string> shader_names();

struct pipeline {
    VkPipeline handle = VK_NULL_HANDLE;
    VkPipelineLayout layout = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
    uint32_t n_buffers = 0;   // storage buffers at bindings 0..n_buffers-1 of set 0
    uint32_t push_bytes = 0;  // push constant block size
};

class pipelines {
  public:
    // cache_path: a file for VkPipelineCache data ("" for none); a stale or foreign file is ignored.
    pipelines(const context& ctx, std::string cache_path = "");
    ~pipelines();  // writes the cache file back
    pipelines(const pipelines&) = delete;
    pipelines& operator=(const pipelines&) = delete;

    // The pipeline of `shader` with specialization constants spec[i] at constant_id i. Throws
    // tandem::error for an unknown shader or a driver failure.
    const pipeline& get(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes,
                        std::span<const uint32_t> spec = {});
    size_t size() const { return made_.size(); }
    const context& ctx() const { return ctx_; }

  private:
    const context& ctx_;
    std::string cache_path_;
    VkPipelineCache cache_ = VK_NULL_HANDLE;
    std::map<std::pair<std::string, std::vector<uint32_t>>, std::unique_ptr<pipeline>> made_;
};

}  // namespace tandem::vk
