// Writes the K and V rows of n_tokens batch tokens into their cache slots: one invocation per
// (token, KV head, part), encoding head_dim floats as the cache's type with the CPU quantizers'
// arithmetic (scale = amax / 127 or signed max / -8, rounded to f16; codes rounded half to even).
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer acts { float a[]; };  // the arena: K and V views
layout(std430, binding = 1) buffer kv_pool { uint pool[]; };
layout(std430, binding = 2) readonly buffer token_slots { int slots[]; };  // block * block_size + slot

layout(push_constant) uniform shape {
    uint n_tokens;
    uint n_kv_heads;
    uint head_dim;
    uint kv_type;
    uint block_size;
    uint block_words;
    uint part_words;
    uint layer_slot;
    uint k_off;
    uint k_stride;
    uint v_off;
    uint v_stride;
} p;

#include "kv_rows.glsl"

float f16_round(float v) {
    return unpackHalf2x16(packHalf2x16(vec2(v, 0.0))).x;
}

void main() {
    const uint id = gl_GlobalInvocationID.x;
    if (id >= p.n_tokens * p.n_kv_heads * 2) return;
    const uint part = id % 2, h = (id / 2) % p.n_kv_heads, t = id / (2 * p.n_kv_heads);
    const uint block = uint(slots[t]) / p.block_size, slot = uint(slots[t]) % p.block_size;
    const uint rw = kv_row_words(p.kv_type, p.head_dim);
    const uint row = block * p.block_words + (2 * p.layer_slot + part) * p.part_words + (h * p.block_size + slot) * rw;
    const uint src = (part == 0 ? p.k_off + t * p.k_stride : p.v_off + t * p.v_stride) + h * p.head_dim;
    if (p.kv_type == 0) {
        for (uint d = 0; d < p.head_dim; d += 2) pool[row + d / 2] = packHalf2x16(vec2(a[src + d], a[src + d + 1]));
        return;
    }
    const uint nb = p.head_dim / 32, per_word = p.kv_type == 1 ? 4 : 8;
    for (uint b = 0; b < nb; ++b) {
        float amax = 0.0, vmax = 0.0;
        for (uint j = 0; j < 32; ++j) {
            const float x = a[src + 32 * b + j];
            if (abs(x) > amax) {
                amax = abs(x);
                vmax = x;
            }
        }
        const float d = f16_round(p.kv_type == 1 ? amax / 127.0 : vmax / -8.0);
        const float inv = d != 0.0 ? 1.0 / d : 0.0;
        pool[row + b] = floatBitsToUint(d);
        for (uint w = 0; w < 32 / per_word; ++w) {
            uint word = 0;
            for (uint m = 0; m < per_word; ++m) {
                const float x = a[src + 32 * b + w * per_word + m];
                if (p.kv_type == 1) {
                    const int q = clamp(int(roundEven(x * inv)), -127, 127);
                    word |= uint(q & 0xff) << (8 * m);
                } else {
                    const int q = clamp(int(roundEven(x * inv + 8.0)), 0, 15);
                    word |= uint(q) << (4 * m);
                }
            }
            pool[row + nb + b * (32 / per_word) + w] = word;
        }
    }
}
