// Shader modules, pipeline layouts and the on-disk pipeline cache.
#include "kernels/vulkan/vk_pipeline.h"

#include <fstream>
#include <iterator>

#include "common/error.h"
#include "kernels/vulkan/vk_check.h"
#include "kernels/vulkan/vk_device.h"

namespace tandem::vk {

std::vector<std::string> shader_names() {
    std::vector<std::string> out;
    for (const embedded_file& f : embedded_shaders()) {
        std::string n(f.path);
        if (n.size() > 4 && n.ends_with(".spv")) out.push_back(n.substr(0, n.size() - 4));
    }
    return out;
}

pipelines::pipelines(const context& ctx, std::string cache_path) : ctx_(ctx), cache_path_(std::move(cache_path)) {
    std::vector<char> data;
    if (!cache_path_.empty()) {
        std::ifstream in(cache_path_, std::ios::binary);
        if (in) data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    ci.initialDataSize = data.size();
    ci.pInitialData = data.empty() ? nullptr : data.data();
    // The driver checks the header (vendor, device, cache UUID) and ignores data of another device;
    // a corrupt file that it rejects outright is dropped, not fatal.
    if (vkCreatePipelineCache(ctx_.device(), &ci, nullptr, &cache_) != VK_SUCCESS) {
        ci.initialDataSize = 0;
        ci.pInitialData = nullptr;
        check(vkCreatePipelineCache(ctx_.device(), &ci, nullptr, &cache_), "vkCreatePipelineCache");
    }
}

pipelines::~pipelines() {
    VkDevice dev = ctx_.device();
    if (!cache_path_.empty()) {
        size_t n = 0;
        if (vkGetPipelineCacheData(dev, cache_, &n, nullptr) == VK_SUCCESS && n > 0) {
            std::vector<char> data(n);
            if (vkGetPipelineCacheData(dev, cache_, &n, data.data()) == VK_SUCCESS) {
                // Written beside and renamed over, so a crash mid-write leaves the old file whole.
                const std::string tmp = cache_path_ + ".tmp";
                std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
                out.write(data.data(), static_cast<std::streamsize>(n));
                out.close();
                if (out) std::rename(tmp.c_str(), cache_path_.c_str());
            }
        }
    }
    for (auto& [key, p] : made_) {
        vkDestroyPipeline(dev, p->handle, nullptr);
        vkDestroyPipelineLayout(dev, p->layout, nullptr);
        vkDestroyDescriptorSetLayout(dev, p->set_layout, nullptr);
    }
    vkDestroyPipelineCache(dev, cache_, nullptr);
}

const pipeline& pipelines::get(std::string_view shader, uint32_t n_buffers, uint32_t push_bytes,
                               std::span<const uint32_t> spec) {
    auto key = std::make_pair(std::string(shader), std::vector<uint32_t>(spec.begin(), spec.end()));
    if (auto it = made_.find(key); it != made_.end()) return *it->second;

    const std::string file = std::string(shader) + ".spv";
    const embedded_file* code = nullptr;
    for (const embedded_file& f : embedded_shaders())
        if (f.path == file) code = &f;
    if (!code) throw error("Vulkan: no shader named '" + std::string(shader) + "' in this binary");

    VkDevice dev = ctx_.device();
    auto p = std::make_unique<pipeline>();
    p->n_buffers = n_buffers;
    p->push_bytes = push_bytes;
    VkShaderModule module = VK_NULL_HANDLE;
    try {
        std::vector<VkDescriptorSetLayoutBinding> bindings(n_buffers);
        for (uint32_t i = 0; i < n_buffers; ++i)
            bindings[i] = {i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
        VkDescriptorSetLayoutCreateInfo sci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        sci.bindingCount = n_buffers;
        sci.pBindings = bindings.data();
        check(vkCreateDescriptorSetLayout(dev, &sci, nullptr, &p->set_layout), "vkCreateDescriptorSetLayout");

        const VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes};
        VkPipelineLayoutCreateInfo lci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        lci.setLayoutCount = 1;
        lci.pSetLayouts = &p->set_layout;
        lci.pushConstantRangeCount = push_bytes ? 1 : 0;
        lci.pPushConstantRanges = push_bytes ? &range : nullptr;
        check(vkCreatePipelineLayout(dev, &lci, nullptr, &p->layout), "vkCreatePipelineLayout");

        VkShaderModuleCreateInfo mci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        mci.codeSize = code->bytes.size();
        mci.pCode = reinterpret_cast<const uint32_t*>(code->bytes.data());  // embedded 16-byte aligned
        check(vkCreateShaderModule(dev, &mci, nullptr, &module), "vkCreateShaderModule");

        std::vector<VkSpecializationMapEntry> entries(spec.size());
        for (uint32_t i = 0; i < spec.size(); ++i)
            entries[i] = {i, static_cast<uint32_t>(i * sizeof(uint32_t)), sizeof(uint32_t)};
        VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), spec.size_bytes(), spec.data()};
        VkComputePipelineCreateInfo pci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        pci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
        pci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        pci.stage.module = module;
        pci.stage.pName = "main";
        pci.stage.pSpecializationInfo = spec.empty() ? nullptr : &si;
        pci.layout = p->layout;
        check(vkCreateComputePipelines(dev, cache_, 1, &pci, nullptr, &p->handle),
              ("vkCreateComputePipelines(" + std::string(shader) + ")").c_str());
        vkDestroyShaderModule(dev, module, nullptr);
    } catch (...) {
        if (module) vkDestroyShaderModule(dev, module, nullptr);
        if (p->layout) vkDestroyPipelineLayout(dev, p->layout, nullptr);
        if (p->set_layout) vkDestroyDescriptorSetLayout(dev, p->set_layout, nullptr);
        throw;
    }
    return *made_.emplace(std::move(key), std::move(p)).first->second;
}

}  // namespace tandem::vk
