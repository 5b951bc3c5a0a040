// Elementwise f32 operations over a rows x cols view, the operation a specialization constant:
// 0 add (o = a + b), 1 scale (o = a * c), 2 swiglu (o = silu(a) * b), 3 geglu_tanh
// (o = gelu_tanh(a) * b), 4 softcap (o = c * tanh(a / c)), 5 mul (o = a * b). Each operand is an
// element offset and a row stride into its buffer; b also has a column step, so b can be a bias row
// (b_stride 0) or one scalar (b_stride 0, b_cstep 0). o may alias a or b.
#version 450

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) readonly buffer in_a { float a[]; };
layout(std430, binding = 1) readonly buffer in_b { float b[]; };
layout(std430, binding = 2) buffer out_buf { float o[]; };

layout(push_constant) uniform shape {
    uint rows;
    uint cols;
    uint a_off;
    uint a_stride;
    uint b_off;
    uint b_stride;
    uint b_cstep;
    uint o_off;
    uint o_stride;
    float c;
} p;

float gelu_tanh(float x) {
    const float k_sqrt_2_over_pi = 0.7978845608028654;
    return 0.5 * x * (1.0 + tanh(k_sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
}

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= p.rows * p.cols) return;
    const uint r = i / p.cols, col = i % p.cols;
    const float x = a[p.a_off + r * p.a_stride + col];
    const uint bi = p.b_off + r * p.b_stride + col * p.b_cstep;
    float v;
    if (OP == 0) {
        v = x + b[bi];
    } else if (OP == 1) {
        v = x * p.c;
    } else if (OP == 2) {
        v = x / (1.0 + exp(-x)) * b[bi];
    } else if (OP == 3) {
        v = gelu_tanh(x) * b[bi];
    } else if (OP == 4) {
        v = p.c * tanh(x / p.c);
    } else {
        v = x * b[bi];
    }
    o[p.o_off + r * p.o_stride + col] = v;
}
