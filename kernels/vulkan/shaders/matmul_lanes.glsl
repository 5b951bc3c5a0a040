// The lane layout both matmul shaders share, so that an output's sum is the same arithmetic in
// either (batch invariance: a row's result does not depend on how many rows share the dispatch).
// A workgroup computes OUTS output rows with LANES = local_size / OUTS invocations each; lane l sums
// units l, l + LANES, l + 2 LANES, ... of the weight row in order (a unit: 1-16 elements, in order),
// then the LANES partial sums are added by subgroupAdd when SUBGROUP_REDUCE is set and a subgroup is
// exactly one output's lanes, else by a shared-memory tree. The includer declares ROWS (activation
// rows per pass, the size of its accumulator array) before the include.
// Built twice (kernels/vulkan/CMakeLists.txt): NAME_tree with NO_SUBGROUP_ARITHMETIC has no subgroupAdd
// at all, for devices without subgroup arithmetic (SUBGROUP_REDUCE must then be false).
#extension GL_KHR_shader_subgroup_basic : require
#ifndef NO_SUBGROUP_ARITHMETIC
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

layout(local_size_x_id = 0) in;  // invocations per workgroup: OUTS * LANES, LANES a power of 2
layout(constant_id = 1) const uint FORMAT = 0;
layout(constant_id = 2) const uint OUTS = 8;
layout(constant_id = 3) const bool SUBGROUP_REDUCE = false;

#include "weights.glsl"

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

const uint LANES = gl_WorkGroupSize.x / OUTS;
shared float part[SUBGROUP_REDUCE ? 1 : ROWS * gl_WorkGroupSize.x];

// This invocation's output slot and lane. The subgroup path needs the device to run LANES-wide
// subgroups (the host asks for it only when the reported subgroup size is LANES); the check keeps a
// driver that picks another size correct, on the tree. Uniform over the workgroup.
bool lanes_are_subgroups() {
    return SUBGROUP_REDUCE && gl_SubgroupSize == LANES;
}
uint lane_slot() {
    return lanes_are_subgroups() ? gl_SubgroupID : gl_LocalInvocationID.x / LANES;
}
uint lane_id() {
    return lanes_are_subgroups() ? gl_SubgroupInvocationID : gl_LocalInvocationID.x % LANES;
}

// y[row r0 + r][o] = the sum of acc[r] over the output's lanes, for r < rows. Every invocation of
// the workgroup calls it (the tree's barriers); `valid`: this slot's output exists.
void reduce_and_store(float acc[ROWS], uint r0, uint rows, uint o, bool valid) {
    const uint lane = lane_id();
#ifndef NO_SUBGROUP_ARITHMETIC
    if (lanes_are_subgroups()) {
        for (uint r = 0; r < ROWS; ++r) {
            if (r >= rows) break;
            const float s = subgroupAdd(acc[r]);
            if (lane == 0 && valid) y[p.y_off + (r0 + r) * p.y_stride + o] = s;
        }
        return;
    }
#endif
    const uint t = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x, base = t - lane;
    for (uint r = 0; r < ROWS; ++r) part[r * n + t] = acc[r];
    barrier();
    for (uint s = LANES / 2; s > 0; s >>= 1) {
        if (lane < s)
            for (uint r = 0; r < rows; ++r) part[r * n + t] += part[r * n + t + s];
        barrier();
    }
    for (uint r = lane; r < rows; r += LANES)
        if (valid) y[p.y_off + (r0 + r) * p.y_stride + o] = part[r * n + base];
    barrier();
}
