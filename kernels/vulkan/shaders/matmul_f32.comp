// y[y_off + r * y_stride + o] = sum_i x[x_off + r * x_stride + i] * w[o * n_in + i] for r < n_rows,
// o < n_out: one workgroup per output o (over a 2-D grid, as n_out may exceed the 65535 groups of one
// dimension), reading the weight row once for up to 8 activation rows at a time; each invocation
// sums a strided part of the row, then a shared-memory tree reduces the parts (the fallback that
// every device runs). Activations are addressed by element offsets and strides (views of the arena).
#version 450

layout(local_size_x_id = 0) in;  // specialization constant 0: invocations per workgroup (a power of 2)

layout(std430, binding = 0) readonly buffer weights { float w[]; };
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
    const uint t = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    for (uint r0 = 0; r0 < p.n_rows; r0 += k_rows) {
        const uint rows = min(k_rows, p.n_rows - r0);
        float acc[k_rows];
        for (uint r = 0; r < k_rows; ++r) acc[r] = 0.0;
        for (uint i = t; i < p.n_in; i += n) {
            const float wi = w[o * p.n_in + i];
            for (uint r = 0; r < rows; ++r) acc[r] += wi * x[p.x_off + (r0 + r) * p.x_stride + i];
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
