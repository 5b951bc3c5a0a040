// Attention over the paged device KV cache, one workgroup of 64 per (batch token, query head):
// keys in chunks of 64 (one per invocation: q . k), an online softmax across chunks (running max
// and sum, the accumulator rescaled), and each invocation accumulating its own output dims over the
// chunk's V rows. Visible keys of a token at position pos: [pos - window + 1, pos] (window 0: from
// 0), up to pos - 1 without see_self. GQA: query head h reads KV head h / (n_heads / n_kv_heads).
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer q_buf { float qa[]; };
layout(std430, binding = 1) writeonly buffer o_buf { float oa[]; };
layout(std430, binding = 2) readonly buffer kv_pool { uint pool[]; };
layout(std430, binding = 3) readonly buffer tokens { int tok[]; };   // per token: position, sequence
layout(std430, binding = 4) readonly buffer tables { int table[]; };  // per sequence: table_stride block ids

layout(push_constant) uniform shape {
    uint n_tokens;
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint kv_type;
    uint block_size;
    uint block_words;
    uint part_words;
    uint layer_slot;
    uint table_stride;
    uint q_off;
    uint q_stride;
    uint o_off;
    uint o_stride;
    float scale;
    int window;
    uint see_self;
} p;

#include "kv_rows.glsl"

const uint k_max_dims = 512;
shared float q_sh[k_max_dims];
shared float prob[64];
shared float red[64];
shared uint v_row[64];  // the chunk's V rows, found once per key (not once per key and output dim)

uint row_of(uint seq, uint kv_head, uint pos, uint part) {
    const uint block = uint(table[seq * p.table_stride + pos / p.block_size]), slot = pos % p.block_size;
    return block * p.block_words + (2 * p.layer_slot + part) * p.part_words +
           (kv_head * p.block_size + slot) * kv_row_words(p.kv_type, p.head_dim);
}

float reduce(float v, bool is_max) {
    const uint t = gl_LocalInvocationID.x;
    red[t] = v;
    barrier();
    for (uint s = 32; s > 0; s >>= 1) {
        if (t < s) red[t] = is_max ? max(red[t], red[t + s]) : red[t] + red[t + s];
        barrier();
    }
    const float r = red[0];
    barrier();
    return r;
}

void main() {
    const uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (wg >= p.n_tokens * p.n_heads) return;
    const uint t = gl_LocalInvocationID.x, token = wg / p.n_heads, h = wg % p.n_heads;
    const uint kv_head = h / (p.n_heads / p.n_kv_heads), hd = p.head_dim;
    const int pos = tok[2 * token], seq = tok[2 * token + 1];
    const int end = p.see_self != 0 ? pos + 1 : pos;
    const int begin = p.window > 0 && pos + 1 > p.window ? pos + 1 - p.window : 0;
    const uint qb = p.q_off + token * p.q_stride + h * hd;
    for (uint d = t; d < hd; d += 64) q_sh[d] = qa[qb + d];
    barrier();

    float acc[k_max_dims / 64];
    for (uint k = 0; k < k_max_dims / 64; ++k) acc[k] = 0.0;
    float m = -1.0 / 0.0, l = 0.0;
    for (int c0 = begin; c0 < end; c0 += 64) {
        const int j = c0 + int(t);
        float s = -1.0 / 0.0;
        if (j < end) {
            v_row[t] = row_of(uint(seq), kv_head, uint(j), 1);
            const uint row = row_of(uint(seq), kv_head, uint(j), 0);
            float dot = 0.0;
            for (uint d = 0; d < hd; ++d) {
                float kd;
                KV_ELEM(pool, p.kv_type, hd, row, d, kd);
                dot += q_sh[d] * kd;
            }
            s = dot * p.scale;
        }
        const float cm = reduce(s, true), nm = max(m, cm);
        const float pr = j < end ? exp(s - nm) : 0.0;
        prob[t] = pr;
        const float cs = reduce(pr, false);  // its barriers also publish prob[] and v_row[]
        const float corr = exp(m - nm);       // 0 on the first chunk (m = -inf)
        l = l * corr + cs;
        const int n_keys = min(64, end - c0);
        for (uint k = 0; k * 64 + t < hd; ++k) {
            const uint d = k * 64 + t;
            float a = acc[k] * corr;
            for (int jj = 0; jj < n_keys; ++jj) {
                float vd;
                KV_ELEM(pool, p.kv_type, hd, v_row[jj], d, vd);
                a += prob[jj] * vd;
            }
            acc[k] = a;
        }
        m = nm;
        barrier();
    }
    const uint ob = p.o_off + token * p.o_stride + h * hd;
    for (uint k = 0; k * 64 + t < hd; ++k) oa[ob + k * 64 + t] = l > 0.0 ? acc[k] / l : 0.0;
}
