// out[o_off + t * o_stride + i] = table[tokens[t]][i] for t < n_tokens, i < n_in: rows of a weight
// in a device format (vk_weights.h; the format a specialization constant), decoded to f32, one
// invocation per element.
#version 450

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint FORMAT = 0;

layout(std430, binding = 0) readonly buffer weights { uint w[]; };
layout(std430, binding = 1) readonly buffer token_ids { int tokens[]; };
layout(std430, binding = 2) writeonly buffer outputs { float o[]; };

layout(push_constant) uniform shape {
    uint n_in;
    uint n_rows;    // rows of this part of the table
    uint row0;      // the table row this part starts at: tokens outside [row0, row0 + n_rows) are another part's
    uint n_tokens;
    uint o_off;
    uint o_stride;
} p;

void main() {
    const uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (id >= p.n_tokens * p.n_in) return;
    const uint t = id / p.n_in, i = id % p.n_in, nb = p.n_in / 32;
    if (uint(tokens[t]) < p.row0 || uint(tokens[t]) >= p.row0 + p.n_rows) return;
    const uint row = uint(tokens[t]) - p.row0;
    float v;
    if (FORMAT == 0) {
        v = uintBitsToFloat(w[row * p.n_in + i]);
    } else if (FORMAT == 1) {
        const vec2 h = unpackHalf2x16(w[(row * p.n_in + i) / 2]);
        v = i % 2 == 0 ? h.x : h.y;
    } else if (FORMAT == 2) {
        const uint c = w[p.n_rows * nb + (row * p.n_in + i) / 4];
        v = uintBitsToFloat(w[row * nb + i / 32]) * float(bitfieldExtract(int(c), int(8 * (i % 4)), 8));
    } else {
        const uint c = w[p.n_rows * nb + (row * p.n_in + i) / 8];
        v = uintBitsToFloat(w[row * nb + i / 32]) * (float(bitfieldExtract(c, int(4 * (i % 8)), 4)) - 8.0);
    }
    o[p.o_off + t * p.o_stride + i] = v;
}
