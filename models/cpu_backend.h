// The CPU backend: activations in one host arena, weights used in place from the mmap (or, for the
// types the active level's kernels read faster packed, from a packed copy made at load), compute on
// the kernels' thread pool.
#pragma once

#include <memory>
#include <vector>

#include "models/backend.h"
#include "models/kv_pool.h"

namespace tandem {

class thread_pool;

class cpu_backend final : public backend {
  public:
    explicit cpu_backend(thread_pool& pool);

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
    float* ptr(act a) { return arena_.data() + a.offset; }
    const float* weight_f32(const weight& w);  // w must be f32 (norm weights, scalars)

    // Anonymous memory on huge pages where the kernel gives them (a packed copy of a large model
    // would otherwise take a page fault per 4 KiB: a quarter of a second per 100 MB here). Packed
    // copies are cut from chunks of at least 64 MiB, so small tensors do not each round up to 2 MiB.
    struct anon_memory {
        explicit anon_memory(size_t n);
        ~anon_memory();
        anon_memory(const anon_memory&) = delete;
        anon_memory& operator=(const anon_memory&) = delete;
        uint8_t* data = nullptr;
        size_t size = 0;
    };

    uint8_t* packed_alloc(size_t n);  // 64-byte aligned room for a packed copy, in packed_

    thread_pool& pool_;
    std::vector<std::unique_ptr<anon_memory>> packed_;  // chunks of packed weight copies, owned
    size_t packed_used_ = 0;                            // bytes taken of the last chunk
    std::vector<float> arena_;
    int64_t arena_used_ = 0;
    std::vector<kv_pool> pools_;     // one per KV group
    std::vector<kv_group_view> kv_;  // their views
    // The current batch, flattened: per token its id, position and sequence.
    std::vector<int32_t> tokens_, positions_, token_seq_;
    std::vector<int64_t> seq_row0_;  // first flattened row of each sequence
    struct attn_item {
        int64_t row_begin, row_end, kv_head;
        size_t seq;
    };
    std::vector<attn_item> attn_items_;  // reused by every attention call
    const batch* batch_ = nullptr;
};

}  // namespace tandem
