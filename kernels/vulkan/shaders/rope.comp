// Rotary position embedding in place over n_tokens rows (from x_off) of n_heads heads of head_dim floats: pair i
// of each head turns by theta = pos * freq_scale * freqs[i], where freqs[i] = base^(-2i/n_rot) /
// factor[i] comes from the host (so every device and the CPU share one table). neox: pairs
// (i, i + n_rot/2), else (2i, 2i+1). One invocation per (token, head, pair).
#version 450

layout(local_size_x = 64) in;

layout(std430, binding = 0) buffer rows { float x[]; };
layout(std430, binding = 1) readonly buffer positions { int pos[]; };
layout(std430, binding = 2) readonly buffer frequencies { float freqs[]; };

layout(push_constant) uniform shape {
    uint n_tokens;
    uint n_heads;
    uint head_dim;
    uint n_rot;
    uint x_off;       // element offset of token 0's row
    uint row_stride;  // floats from one token's row to the next
    float freq_scale;
    uint neox;
} p;

void main() {
    const uint half_rot = p.n_rot / 2;
    const uint id = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (id >= p.n_tokens * p.n_heads * half_rot) return;
    const uint i = id % half_rot, h = (id / half_rot) % p.n_heads, tok = id / (half_rot * p.n_heads);
    const float theta = float(pos[tok]) * p.freq_scale * freqs[i];
    const float c = cos(theta), s = sin(theta);
    const uint base = p.x_off + tok * p.row_stride + h * p.head_dim;
    const uint a = base + (p.neox != 0 ? i : 2 * i), b = base + (p.neox != 0 ? i + half_rot : 2 * i + 1);
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
}
