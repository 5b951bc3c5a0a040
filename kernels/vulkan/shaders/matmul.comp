// y[y_off + r * y_stride + o] = sum_i x[x_off + r * x_stride + i] * W[o][i] for r < n_rows, o < n_out,
// W in one of the device weight formats (vk_weights.h), the format a specialization constant:
// 0 f32, 1 f16, 2 q8_0, 3 q4_0. One workgroup per output row o (2-D grid past 65535), reading the
// weight row once for up to 8 activation rows at a time: each invocation takes whole words of the
// row (1, 2, 4 or 8 elements), then a shared-memory tree reduces the parts.
#version 450

layout(local_size_x_id = 0) in;  // invocations per workgroup (a power of 2)
layout(constant_id = 1) const uint FORMAT = 0;

layout(std430, binding = 0) readonly buffer weights { uint w[]; };
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
const uint PER_WORD = FORMAT == 0 ? 1 : FORMAT == 1 ? 2 : FORMAT == 2 ? 4 : 8;
shared float part[k_rows * gl_WorkGroupSize.x];

// The PER_WORD weights of word j of row o (elements j * PER_WORD ...), unused lanes zero.
void weights_of(uint o, uint j, out float v[8]) {
    const uint words = p.n_in / PER_WORD, nb = p.n_in / 32;
    for (uint m = 0; m < 8; ++m) v[m] = 0.0;
    if (FORMAT == 0) {
        v[0] = uintBitsToFloat(w[o * p.n_in + j]);
    } else if (FORMAT == 1) {
        const vec2 h = unpackHalf2x16(w[o * words + j]);
        v[0] = h.x;
        v[1] = h.y;
    } else if (FORMAT == 2) {
        const float d = uintBitsToFloat(w[o * nb + j / 8]);
        const uint c = w[p.n_out * nb + o * words + j];
        for (uint m = 0; m < 4; ++m) v[m] = d * float(bitfieldExtract(int(c), int(8 * m), 8));
    } else {
        const float d = uintBitsToFloat(w[o * nb + j / 4]);
        const uint c = w[p.n_out * nb + o * words + j];
        for (uint m = 0; m < 8; ++m) v[m] = d * (float(bitfieldExtract(c, int(4 * m), 4)) - 8.0);
    }
}

void main() {
    const uint o = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (o >= p.n_out) return;  // whole workgroup: no barrier is skipped by part of it
    const uint t = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x, words = p.n_in / PER_WORD;
    for (uint r0 = 0; r0 < p.n_rows; r0 += k_rows) {
        const uint rows = min(k_rows, p.n_rows - r0);
        float acc[k_rows];
        for (uint r = 0; r < k_rows; ++r) acc[r] = 0.0;
        for (uint j = t; j < words; j += n) {
            float v[8];
            weights_of(o, j, v);
            for (uint r = 0; r < rows; ++r) {
                const uint xb = p.x_off + (r0 + r) * p.x_stride + j * PER_WORD;
                for (uint m = 0; m < PER_WORD; ++m) acc[r] += v[m] * x[xb + m];
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
