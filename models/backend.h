// The compute interface a forward pass is written against. Model files describe the computation
// as calls on activations (`act`) and weights; a backend (CPU now, Vulkan later) owns the memory
// behind both and runs the ops. Model files never touch activation memory directly.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "kernels/ops.h"
#include "kernels/types.h"
#include "models/batch.h"
#include "models/kv_view.h"

namespace tandem {

namespace gguf {
struct tensor_info;
}

// A weight tensor as the backend holds it: n_out rows of n_in elements (GGUF ne[0] = n_in).
struct weight {
    dtype type = dtype::f32;
    int64_t n_in = 0;              // row length
    int64_t n_out = 0;             // rows (product of the other dims)
    const void* host = nullptr;    // mmapped GGUF bytes
    int32_t handle = -1;           // backend-specific (device copy), -1 on CPU
    const void* packed = nullptr;  // CPU: the kernels' packed copy (kernels/pack.h), or null
    explicit operator bool() const { return host != nullptr; }
};

// How a model reads a weight: as a matmul operand, by rows (embed), or both (a token table tied to the
// output head).
enum class weight_use { matmul, rows, rows_and_matmul };

// RoPE as a model asks for it: the kernel's settings (cfg.freq_factors left null) and the frequency
// factors, when the file has them, as a weight (llama 3's and Gemma 4's rope_freqs: n_rot / 2 f32
// divisors of theta), so a backend reads them from its own copy, as any weight.
struct rope_spec {
    rope_config cfg;
    const weight* freq_factors = nullptr;
};

// A 2-D f32 activation view in the backend's arena: rows x cols, row r starts at r * stride.
struct act {
    int64_t offset = 0;  // in floats, from the arena base
    int64_t rows = 0, cols = 0, stride = 0;

    // Columns [c0, c0 + n) of every row.
    act cols_view(int64_t c0, int64_t n) const { return {offset + c0, rows, n, stride}; }
    // The same contiguous floats seen as rows x cols (only for contiguous views).
    act reshaped(int64_t r, int64_t c) const { return {offset, r, c, c}; }
};

// Where the rows of a sequence sit in the flattened batch.
struct batch_layout {
    int64_t n_tokens = 0;
    int64_t n_logit_rows = 0;
};

class backend {
  public:
    virtual ~backend() = default;

    // `use`: how the model reads it. A backend may keep a matmul operand in its own layout (the CPU's
    // packed copies); embed reads rows as the file has them (a tied table gets both).
    virtual weight load_weight(const gguf::tensor_info& t, weight_use use) = 0;
    // The KV pools, in the backend's memory (host on the CPU, device on Vulkan): for each group of
    // `specs` (group index = position), n_blocks blocks of block_size tokens stored as `type`;
    // replaces earlier pools. Throws tandem::error for a bad spec or type, or pools that do not fit.
    // The engine keeps only block ids (its block tables); models reach a pool by group index.
    virtual void alloc_kv(std::span<const kv_group_spec> specs, dtype type, int32_t block_size, int64_t n_blocks) = 0;
    virtual size_t kv_bytes() const = 0;  // what the pools take (on the CPU: reserved, committed as written)

    // Starts a forward over `b`: resets the arena and uploads token ids, positions and tables.
    virtual batch_layout begin(const batch& b) = 0;
    virtual act alloc(int64_t rows, int64_t cols) = 0;

    // out[t] = table row of the batch's token t, dequantized.
    virtual void embed(const weight& table, act out) = 0;
    virtual void matmul(const weight& w, act x, act y) = 0;  // y = x W^T
    virtual void add_row(act y, const weight& b) = 0;        // y[r] += b (bias)
    virtual void add(act a, act b, act out) = 0;             // elementwise, out may alias
    virtual void scale(act x, float s) = 0;
    virtual void scale_by(act x, const weight& scalar) = 0;  // x *= scalar[0]
    // RMS-normalises each group of `group` columns (group = cols: whole rows; = head_dim: per head),
    // then multiplies by w (length group; null: no weight).
    virtual void rmsnorm(act x, act out, int64_t group, const weight* w, float eps) = 0;
    virtual void rope(act x, int64_t head_dim, const rope_spec& r) = 0;  // at the batch positions
    virtual void swiglu(act gate, act up, act out) = 0;
    virtual void geglu_tanh(act gate, act up, act out) = 0;
    virtual void softcap(act x, float c) = 0;
    // Writes K/V of every batch token into the cache, then attends: q (n_tokens, n_heads * head_dim).
    virtual void kv_store(int32_t group, int32_t layer_slot, act k, act v) = 0;
    // Keys visible to a query at position p: [p - window + 1, p] (window 0: from 0), or up to p - 1
    // when !see_self (an MTP drafter attends to the anchor's cache before the anchor has its token).
    virtual void attention(int32_t group, int32_t layer_slot, act q, act out, int64_t n_heads, float scale,
                           int32_t sliding_window, bool see_self = true) = 0;
    // out (n_logit_rows, cols) = the batch rows whose logits were asked for, in batch order.
    virtual void gather_logit_rows(act x, act out) = 0;
    virtual void read(act x, std::span<float> dst) = 0;         // copies rows x cols to the host
    virtual void write(act x, std::span<const float> src) = 0;  // rows x cols from the host
};

}  // namespace tandem
