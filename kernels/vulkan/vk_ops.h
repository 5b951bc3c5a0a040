// The forward pass's operations recorded on device slices: each call picks its pipeline (made once),
// binds the slices, pushes the shape and dispatches over a grid sized for the work (2-D where one
// dimension's 65535 groups would not do). Barriers are the caller's: it knows where data flows.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/vulkan/vk_memory.h"

namespace tandem::vk {

class pipelines;
class recorder;

enum class eltwise_op : uint32_t { add = 0, scale = 1, swiglu = 2, geglu_tanh = 3, softcap = 4 };

// freqs[i] = base^(-2i/n_rot) / (factors ? factors[i] : 1) for i < n_rot/2: the table rope reads.
std::vector<float> rope_frequencies(int32_t n_rot, float freq_base, const float* factors);

class ops {
  public:
    ops(pipelines& pl, recorder& rec) : pl_(pl), rec_(rec) {}

    // y (n_rows, n_out) = x (n_rows, n_in) W^T, W f32 (n_out, n_in).
    void matmul_f32(const slice& w, const slice& x, const slice& y, uint32_t n_in, uint32_t n_out, uint32_t n_rows);
    // out = a op b (or op(a) with c) over n floats; b is ignored by scale and softcap (pass a).
    void eltwise(eltwise_op op, const slice& a, const slice& b, const slice& out, uint32_t n, float c = 0.0f);
    // Each of n_groups groups of n floats: y = x / rms(x) * w (w: n floats, or an empty slice: none).
    void rmsnorm(const slice& x, const slice& w, const slice& y, uint32_t n, uint32_t n_groups, float eps);
    // In place on x (n_tokens rows of row_stride floats, n_heads heads of head_dim at their start);
    // positions: n_tokens int32; freqs: rope_frequencies(n_rot, ...).
    void rope(const slice& x, const slice& positions, const slice& freqs, uint32_t n_tokens, uint32_t n_heads,
              uint32_t head_dim, uint32_t n_rot, uint32_t row_stride, float freq_scale, bool neox);

  private:
    // Groups for n invocations of `local` each, as (x, y) with x <= 65535.
    static void grid(uint64_t n_groups, uint32_t& gx, uint32_t& gy);

    pipelines& pl_;
    recorder& rec_;
};

}  // namespace tandem::vk
