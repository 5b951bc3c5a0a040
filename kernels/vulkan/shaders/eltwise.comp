// Elementwise f32 operations over n elements, the operation a specialization constant:
// 0 add (out = a + b), 1 scale (out = a * c), 2 swiglu (out = silu(a) * b), 3 geglu_tanh
// (out = gelu_tanh(a) * b), 4 softcap (out = c * tanh(a / c)). out may alias a or b.
#version 450

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;

layout(std430, binding = 0) readonly buffer in_a { float a[]; };
layout(std430, binding = 1) readonly buffer in_b { float b[]; };
layout(std430, binding = 2) buffer out_buf { float o[]; };

layout(push_constant) uniform shape {
    uint n;
    float c;
} p;

float gelu_tanh(float x) {
    const float k_sqrt_2_over_pi = 0.7978845608028654;
    return 0.5 * x * (1.0 + tanh(k_sqrt_2_over_pi * (x + 0.044715 * x * x * x)));
}

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    if (i >= p.n) return;
    const float x = a[i];
    float r;
    if (OP == 0) {
        r = x + b[i];
    } else if (OP == 1) {
        r = x * p.c;
    } else if (OP == 2) {
        r = x / (1.0 + exp(-x)) * b[i];
    } else if (OP == 3) {
        r = gelu_tanh(x) * b[i];
    } else {
        r = p.c * tanh(x / p.c);
    }
    o[i] = r;
}
