// The forward pass's operations recorded on device memory: each call picks its pipeline (made once),
// binds whole buffers, pushes the shape with element offsets and strides (so a view into the
// activation arena needs no aligned descriptor offset) and dispatches over a grid sized for the work
// (2-D where one dimension's 65535 groups would not do). Each declares what it reads and writes
// (recorder::track), so the recorder puts barriers only where data flows.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/vulkan/vk_device.h"
#include "kernels/vulkan/vk_kv.h"
#include "kernels/vulkan/vk_memory.h"
#include "kernels/vulkan/vk_weights.h"

namespace tandem::vk {

class pipelines;
class recorder;

// A rows x cols f32 view of a buffer: element (r, c) at off + r * stride + c (all in floats).
struct view {
    slice buf;
    uint32_t off = 0, rows = 1, cols = 0, stride = 0;
};

enum class eltwise_op : uint32_t { add = 0, scale = 1, swiglu = 2, geglu_tanh = 3, softcap = 4, mul = 5 };

// freqs[i] = base^(-2i/n_rot) / (factors ? factors[i] : 1) for i < n_rot/2: the table rope reads.
std::vector<float> rope_frequencies(int32_t n_rot, float freq_base, const float* factors);

// How matmul spreads an output row over invocations (shaders/matmul_lanes.glsl): `outs` outputs per
// workgroup of `outs * lanes` invocations; the lanes' sums added by subgroupAdd (`subgroup`) or a
// shared-memory tree. `tile_rows`: rows per pass of the tiled shader used above 8 rows (0: none, the
// 8-row shader takes every size).
struct matmul_plan {
    uint32_t outs = 8, lanes = 8, tile_rows = 16;
    bool subgroup = false;
};

// The plan for a device: subgroupAdd over lanes of the device's subgroup size where it reports
// subgroup arithmetic in compute shaders, unless TANDEM_VK_NO_SUBGROUP=1 (the fallback, for
// comparison and for the tests); tiles as large as its shared memory allows.
matmul_plan matmul_plan_for(const device_info& d);

class ops {
  public:
    ops(pipelines& pl, recorder& rec);

    const matmul_plan& plan() const { return plan_; }
    // The buffer of codebook_words() (vk_weights.h) the IQ1 / IQ2 / IQ3 formats read; matmul and
    // embed in those formats need it.
    void set_codebooks(const slice& s) { codebooks_ = s; }
    // Tests run both reductions; a plan with subgroup set needs a device with subgroup arithmetic.
    void set_plan(const matmul_plan& p) { plan_ = p; }

    // y (rows, n_out) = x (rows, n_in) W^T, W (n_out rows of n_in) in device format f (vk_weights.h).
    void matmul(weight_format f, const slice& w, const view& x, const view& y);
    // out (n_tokens rows of n_in) = rows tokens[t] of a table in format f, for the tokens in the
    // part [row0, row0 + n_rows) that `table` holds (a table split into parts takes one call each).
    void embed(weight_format f, const slice& table, uint32_t row0, uint32_t n_rows, const slice& tokens,
               const view& out);
    // out = a op b (scale, softcap: op(a) with c). b may be a single row (a bias: added to every row)
    // or a single element (a scalar), broadcast over a's shape.
    void eltwise(eltwise_op op, const view& a, const view& b, const view& out, float c = 0.0f);
    // Each group of `group` floats of each row of x: y = x / rms(x) * w (w: group floats, or an
    // empty slice for none).
    void rmsnorm(const view& x, const slice& w, const view& y, uint32_t group, float eps);
    // In place on the first n_heads * head_dim floats of each row of x (one row per token);
    // positions: x.rows int32; freqs: rope_frequencies(n_rot, ...).
    void rope(const view& x, const slice& positions, const slice& freqs, uint32_t n_heads, uint32_t head_dim,
              uint32_t n_rot, float freq_scale, bool neox);

    // Writes the K and V rows (n_kv_heads * head_dim floats of each row of k and v) of every batch
    // token into the cache slot slots[t] (block * block_size + slot) of layer slot `layer_slot`.
    void kv_store(const kv_device_layout& l, const slice& pool, uint32_t layer_slot, const view& k, const view& v,
                  const slice& slots);
    // out = attention of q (a view of n_heads * head_dim floats per token) over the cache. tokens:
    // (position, sequence) int32 pairs per token; tables: table_stride block ids per sequence.
    struct attention_args {
        uint32_t n_heads = 0, layer_slot = 0, table_stride = 0;
        float scale = 1.0f;
        int32_t window = 0;
        bool see_self = true;
    };
    void attention(const kv_device_layout& l, const slice& pool, const view& q, const view& out, const slice& tokens,
                   const slice& tables, const attention_args& a);

  private:
    pipelines& pl_;
    recorder& rec_;
    matmul_plan plan_;
    slice codebooks_;

    // What binding 3 of matmul and embed holds: the codebooks, or (a format that reads none, before
    // any are set) the weights again.
    slice codebooks_for(weight_format f, const slice& w) const;
};

}  // namespace tandem::vk
