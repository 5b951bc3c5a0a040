// y[y_off + r * y_stride + o] = sum_i x[x_off + r * x_stride + i] * W[o][i] for r < n_rows, o < n_out,
// W in one of the device weight formats (vk_weights.h, decoded by weights.glsl), the format a
// specialization constant. One workgroup per output row o (2-D grid past 65535), reading the weight
// row once for up to 8 activation rows at a time: each invocation takes whole units of the row (1 to
// 16 elements), then a shared-memory tree reduces the parts.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;  // invocations per workgroup (a power of 2)
layout(constant_id = 1) const uint FORMAT = 0;

#include "weights.glsl"

layout(std430, binding = 1) readonly buffer inputs { float x[]; };
layout(std430, binding = 2) writeonly buffer outputs { float y[]; };

layout(push_constant) uniform shape {
    uint n_in;
    uint n_out;
    uint n_rows;
    uint x_off;
    uint x_stride;
    uint y_off;
    uint y_stride;
} p;

const uint k_rows = 8;
shared float part[k_rows * gl_WorkGroupSize.x];

void main() {
    const uint o = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (o >= p.n_out) return;  // whole workgroup: no barrier is skipped by part of it
    const uint t = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x, units = p.n_in / UNIT;
    for (uint r0 = 0; r0 < p.n_rows; r0 += k_rows) {
        const uint rows = min(k_rows, p.n_rows - r0);
        float acc[k_rows];
        for (uint r = 0; r < k_rows; ++r) acc[r] = 0.0;
        for (uint j = t; j < units; j += n) {
            float v[MAX_UNIT];
            weight_unit(o, j, p.n_in, p.n_out, v);
            for (uint r = 0; r < rows; ++r) {
                const uint xb = p.x_off + (r0 + r) * p.x_stride + j * UNIT;
                for (uint m = 0; m < UNIT; ++m) acc[r] += v[m] * x[xb + m];
            }
        }
        for (uint r = 0; r < k_rows; ++r) part[r * n + t] = acc[r];
        barrier();
        for (uint s = n / 2; s > 0; s >>= 1) {
            if (t < s)
                for (uint r = 0; r < rows; ++r) part[r * n + t] += part[r * n + t + s];
            barrier();
        }
        if (t < rows) y[p.y_off + (r0 + t) * p.y_stride + o] = part[t * n];
        barrier();
    }
}
