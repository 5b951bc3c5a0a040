// The Vulkan backend: weights uploaded once in the shaders' formats (kernels/vulkan/vk_weights.h),
// the KV pools in device memory (one pool buffer per group), activations in one device arena, and a forward recorded
// into one command buffer that runs when the model reads its results (read() is the synchronisation point). Sampling
// stays on the CPU: the logits rows are read back per step.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_kv.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_ops.h"
#include "kernels/vulkan/vk_pipeline.h"
#include "models/backend.h"

namespace tandem {

// One open device and what every backend on it shares (an anchor and a draft model both).
struct vulkan_device {
    explicit vulkan_device(const vk::device_info& d, const std::string& pipeline_cache = "");
    vk::context ctx;
    vk::pipelines pipelines;
    vk::allocator device_mem, host_mem;
    vk::recorder rec;
    vk::ops ops;
    vk::slice codebooks;  // the IQ formats' codebooks (vk::codebook_words): uploaded by the first such weight

    void ensure_codebooks();
};

class vulkan_backend final : public backend {
  public:
    explicit vulkan_backend(std::shared_ptr<vulkan_device> dev);
    ~vulkan_backend() override;

    // The most blocks per group that one device pool buffer holds, for the groups `specs`.
    static int64_t max_kv_blocks(const vulkan_device& dev, std::span<const kv_group_spec> specs, dtype kv_type,
                                 int32_t block_size);

    weight load_weight(const gguf::tensor_info& t, weight_use use) override;
    void alloc_kv(std::span<const kv_group_spec> specs, dtype type, int32_t block_size, int64_t n_blocks) override;
    size_t kv_bytes() const override;
    batch_layout begin(const batch& b) override;
    act alloc(int64_t rows, int64_t cols) override;

    void embed(const weight& table, act out) override;
    void matmul(const weight& w, act x, act y) override;
    void add_row(act y, const weight& b) override;
    void add(act a, act b, act out) override;
    void scale(act x, float s) override;
    void scale_by(act x, const weight& scalar) override;
    void rmsnorm(act x, act out, int64_t group, const weight* w, float eps) override;
    void rope(act x, int64_t head_dim, const rope_spec& r) override;
    void swiglu(act gate, act up, act out) override;
    void geglu_tanh(act gate, act up, act out) override;
    void softcap(act x, float c) override;
    void kv_store(int32_t group, int32_t layer_slot, act k, act v) override;
    void attention(int32_t group, int32_t layer_slot, act q, act out, int64_t n_heads, float scale,
                   int32_t sliding_window, bool see_self) override;
    void gather_logit_rows(act x, act out) override;
    void read(act x, std::span<float> dst) override;
    void write(act x, std::span<const float> src) override;

  private:
    struct weight_part {
        vk::slice data;
        uint32_t row0 = 0, rows = 0;
    };
    struct device_weight {
        vk::weight_format format = vk::weight_format::f32;
        uint32_t n_in = 0, n_out = 0;
        std::vector<weight_part> parts;
    };
    struct device_kv {
        vk::kv_device_layout layout;
        vk::slice pool;
    };

    vk::view view(act a) const;
    const device_weight& dw(const weight& w) const;
    void ensure_recording();
    // A host-visible slice of at least `bytes` from the per-forward staging area (valid until the
    // next submit).
    vk::slice stage(uint64_t bytes);
    // Copy regions between the rows of x in the arena and `packed` (row r at r * cols floats): arena
    // to packed when to_packed, else back.
    std::vector<VkBufferCopy> row_regions(act x, const vk::slice& packed, bool to_packed) const;

    std::shared_ptr<vulkan_device> dev_;
    std::vector<device_weight> weights_;
    std::vector<device_kv> kv_;
    vk::slice arena_;
    int64_t arena_floats_ = 0, arena_used_ = 0;
    vk::slice inputs_;  // host-visible: tokens, (pos, seq) pairs, block tables and slots of the batch
    uint64_t inputs_bytes_ = 0;
    vk::slice tokens_s_, tokpos_s_, positions_s_;
    std::vector<vk::slice> tables_s_, slots_s_;  // per group
    uint32_t table_stride_ = 0;
    std::vector<int64_t> seq_row0_;
    const batch* batch_ = nullptr;
    vk::slice staging_;
    uint64_t staging_used_ = 0;
    std::map<std::tuple<int32_t, float, int32_t>, vk::slice> rope_tables_;  // (n_rot, base, factors' handle)
};

}  // namespace tandem
