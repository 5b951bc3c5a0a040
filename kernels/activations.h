// The activations of the forward pass at the best SIMD level there is (the op_* of ops.h are
// their scalar reference, and the fallback): exp and tanh per element cost as much as a matmul
// row's share of a small step, so they get vector kernels like the matmuls.
#pragma once

#include <cstdint>

namespace tandem {

// out = act(gate) * up over n elements (out may alias gate or up).
void activation_swiglu(const float* gate, const float* up, float* out, int64_t n);
void activation_geglu_tanh(const float* gate, const float* up, float* out, int64_t n);
// x = c * tanh(x / c)
void activation_softcap(float* x, int64_t n, float c);

}  // namespace tandem
