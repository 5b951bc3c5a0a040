// Elementwise and per-row f32 operations of the forward pass (norms, RoPE, activations), portable.
// The activations are also the scalar reference of their SIMD kernels (activations.h).
#pragma once

#include <cstdint>

namespace tandem {

// y = x / rms(x) * w over n elements (w may be null: no weight). x and y may alias.
void op_rmsnorm(const float* x, float* y, int64_t n, const float* w, float eps);

struct rope_config {
    int32_t n_rot = 0;  // rotated dims per head (<= head_dim)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;              // linear scaling: positions are multiplied by this
    bool neox = false;                    // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
    const float* freq_factors = nullptr;  // n_rot/2 divisors of theta (llama3 rope_freqs, gemma4), or null
};
// Rotates n_heads heads of head_dim elements, stored back to back, for position pos.
void op_rope(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, const rope_config& cfg);

// out = act(gate) * up over n elements (out may alias gate or up).
void op_swiglu(const float* gate, const float* up, float* out, int64_t n);
void op_geglu_tanh(const float* gate, const float* up, float* out, int64_t n);
float op_gelu_tanh(float x);

// x = c * tanh(x / c)
void op_softcap(float* x, int64_t n, float c);
// In-place softmax over n elements; returns nothing, max-subtracted for stability.
void op_softmax(float* x, int64_t n);

}  // namespace tandem
