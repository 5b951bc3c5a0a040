// out[o_off + t * o_stride + i] = table[tokens[t]][i] for t < n_tokens, i < n_in: rows of a weight
// in a device format (vk_weights.h, decoded by weights.glsl; the format a specialization constant),
// one invocation per unit (1 to 16 consecutive elements) of each token's row.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint FORMAT = 0;

#include "weights.glsl"

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
    const uint units = p.n_in / UNIT;
    if (id >= p.n_tokens * units) return;
    const uint t = id / units, j = id % units;
    if (uint(tokens[t]) < p.row0 || uint(tokens[t]) >= p.row0 + p.n_rows) return;
    float v[MAX_UNIT];
    weight_unit(uint(tokens[t]) - p.row0, j, p.n_in, p.n_rows, v);
    const uint ob = p.o_off + t * p.o_stride + j * UNIT;
    for (uint m = 0; m < UNIT; ++m) o[ob + m] = v[m];
}
