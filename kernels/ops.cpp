// Portable f32 operations; -O3 vectorises these loops well enough next to the matmuls.
#include "kernels/ops.h"

#include <cmath>

namespace tandem {

void op_rmsnorm(const float* x, float* y, int64_t n, const float* w, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    }
}

void op_rope(float* x, int64_t n_heads, int64_t head_dim, int32_t pos, const rope_config& cfg) {
    const int64_t half = cfg.n_rot / 2;
    const float p = static_cast<float>(pos) * cfg.freq_scale;
    for (int64_t i = 0; i < half; ++i) {
        float theta = p * std::pow(cfg.freq_base, -2.0f * static_cast<float>(i) / static_cast<float>(cfg.n_rot));
        if (cfg.freq_factors) theta /= cfg.freq_factors[i];
        const float c = std::cos(theta), s = std::sin(theta);
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + h * head_dim;
            const int64_t a = cfg.neox ? i : 2 * i;
            const int64_t b = cfg.neox ? i + half : 2 * i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void op_swiglu(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

float op_gelu_tanh(float x) {
    constexpr float k_sqrt_2_over_pi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(k_sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

void op_geglu_tanh(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = op_gelu_tanh(gate[i]) * up[i];
}

void op_softcap(float* x, int64_t n, float c) {
    for (int64_t i = 0; i < n; ++i) x[i] = c * std::tanh(x[i] / c);
}

void op_softmax(float* x, int64_t n) {
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - mx);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace tandem
