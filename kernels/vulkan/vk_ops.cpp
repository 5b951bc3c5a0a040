#include "kernels/vulkan/vk_ops.h"

#include <cmath>

#include "common/error.h"
#include "kernels/vulkan/vk_commands.h"
#include "kernels/vulkan/vk_pipeline.h"

namespace tandem::vk {

std::vector<float> rope_frequencies(int32_t n_rot, float freq_base, const float* factors) {
    std::vector<float> f(static_cast<size_t>(n_rot / 2));
    for (int32_t i = 0; i < n_rot / 2; ++i) {
        f[static_cast<size_t>(i)] = std::pow(freq_base, -2.0f * static_cast<float>(i) / static_cast<float>(n_rot)) /
                                    (factors ? factors[i] : 1.0f);
    }
    return f;
}

void ops::grid(uint64_t n_groups, uint32_t& gx, uint32_t& gy) {
    constexpr uint64_t k_max = 65535;
    if (n_groups > k_max * k_max) throw error("Vulkan: a dispatch of " + std::to_string(n_groups) + " workgroups");
    gx = static_cast<uint32_t>(std::min<uint64_t>(std::max<uint64_t>(n_groups, 1), k_max));
    gy = static_cast<uint32_t>((std::max<uint64_t>(n_groups, 1) + gx - 1) / gx);
}

void ops::matmul_f32(const slice& w, const slice& x, const slice& y, uint32_t n_in, uint32_t n_out, uint32_t n_rows) {
    const uint32_t spec[] = {64};
    const pipeline& p = pl_.get("matmul_f32", 3, 12, spec);
    const uint32_t push[] = {n_in, n_out, n_rows};
    uint32_t gx, gy;
    grid(n_out, gx, gy);
    rec_.dispatch(p, {w, x, y}, push, gx, gy);
}

void ops::eltwise(eltwise_op op, const slice& a, const slice& b, const slice& out, uint32_t n, float c) {
    const uint32_t spec[] = {static_cast<uint32_t>(op)};
    const pipeline& p = pl_.get("eltwise", 3, 8, spec);
    struct {
        uint32_t n;
        float c;
    } push{n, c};
    uint32_t gx, gy;
    grid((uint64_t{n} + 255) / 256, gx, gy);
    rec_.dispatch(p, {a, b, out}, &push, gx, gy);
}

void ops::rmsnorm(const slice& x, const slice& w, const slice& y, uint32_t n, uint32_t n_groups, float eps) {
    const pipeline& p = pl_.get("rmsnorm", 3, 16);
    struct {
        uint32_t n, n_groups;
        float eps;
        uint32_t has_w;
    } push{n, n_groups, eps, w ? 1u : 0u};
    uint32_t gx, gy;
    grid(n_groups, gx, gy);
    rec_.dispatch(p, {x, w ? w : x, y}, &push, gx, gy);
}

void ops::rope(const slice& x, const slice& positions, const slice& freqs, uint32_t n_tokens, uint32_t n_heads,
               uint32_t head_dim, uint32_t n_rot, uint32_t row_stride, float freq_scale, bool neox) {
    const pipeline& p = pl_.get("rope", 3, 28);
    struct {
        uint32_t n_tokens, n_heads, head_dim, n_rot, row_stride;
        float freq_scale;
        uint32_t neox;
    } push{n_tokens, n_heads, head_dim, n_rot, row_stride, freq_scale, neox ? 1u : 0u};
    uint32_t gx, gy;
    grid((uint64_t{n_tokens} * n_heads * (n_rot / 2) + 63) / 64, gx, gy);
    rec_.dispatch(p, {x, positions, freqs}, &push, gx, gy);
}

}  // namespace tandem::vk
