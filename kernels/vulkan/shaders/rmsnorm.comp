// RMS norm of each group of n floats of each row (n = the row: whole rows; n = head_dim: per head):
// y = x / rms(x) * w, one workgroup per group, the sum of squares reduced in shared memory.
// has_w = 0: no weight (w unread). y may alias x.
#version 450

layout(local_size_x = 128) in;

layout(std430, binding = 0) readonly buffer in_x { float x[]; };
layout(std430, binding = 1) readonly buffer in_w { float w[]; };
layout(std430, binding = 2) buffer out_y { float y[]; };

layout(push_constant) uniform shape {
    uint n;               // floats per group
    uint groups_per_row;
    uint rows;
    uint x_off;
    uint x_stride;
    uint y_off;
    uint y_stride;
    float eps;
    uint has_w;
} p;

shared float part[gl_WorkGroupSize.x];

void main() {
    const uint gid = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (gid >= p.rows * p.groups_per_row) return;
    const uint r = gid / p.groups_per_row, g = gid % p.groups_per_row;
    const uint t = gl_LocalInvocationID.x;
    const uint xb = p.x_off + r * p.x_stride + g * p.n, yb = p.y_off + r * p.y_stride + g * p.n;
    float sum = 0.0;
    for (uint i = t; i < p.n; i += gl_WorkGroupSize.x) sum += x[xb + i] * x[xb + i];
    part[t] = sum;
    barrier();
    for (uint s = gl_WorkGroupSize.x / 2; s > 0; s >>= 1) {
        if (t < s) part[t] += part[t + s];
        barrier();
    }
    const float scale = 1.0 / sqrt(part[0] / float(p.n) + p.eps);
    for (uint i = t; i < p.n; i += gl_WorkGroupSize.x) {
        const float v = x[xb + i] * scale;
        y[yb + i] = p.has_w != 0 ? v * w[i] : v;
    }
}
