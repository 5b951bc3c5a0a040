// The matmul of matmul.comp for many activation rows (prefill): passes of ROWS rows (a
// specialization constant, 16), each weight unit decoded once per pass, and the activations
// staged through shared memory a tile at a time (ROWS rows of STEP units of each lane), read there
// by all OUTS outputs of the workgroup. Each lane still sums its units in matmul.comp's order and the
// lanes are reduced the same way, so a row's result is bitwise that of the 1-8 row path. The decoded
// weights stay in registers rather than a shared tile: in this lane layout each unit is used by one
// invocation only, and sharing it across invocations would change the order of the sums.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(constant_id = 4) const uint ROWS = 16;
#include "matmul_lanes.glsl"

const uint STEP = UNIT >= 32 ? 1 : 32 / UNIT;  // units per lane per tile: 32 elements
const uint TILE = LANES * STEP * UNIT;         // elements of a row per tile
shared float xs[ROWS * TILE];

void main() {
    const uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint o = wg * OUTS + lane_slot(), lane = lane_id(), units = p.n_in / UNIT;
    const uint t = gl_LocalInvocationID.x, n = gl_WorkGroupSize.x;
    const bool valid = o < p.n_out;
    for (uint r0 = 0; r0 < p.n_rows; r0 += ROWS) {
        const uint rows = min(ROWS, p.n_rows - r0);
        float acc[ROWS];
        for (uint r = 0; r < ROWS; ++r) acc[r] = 0.0;
        for (uint e0 = 0; e0 < p.n_in; e0 += TILE) {
            for (uint i = t; i < rows * TILE; i += n) {
                const uint r = i / TILE, e = e0 + i % TILE;
                xs[i] = e < p.n_in ? x[p.x_off + (r0 + r) * p.x_stride + e] : 0.0;
            }
            barrier();
            // Units lane + LANES * k of the tile, in order: matmul.comp's sequence for this lane.
            const uint j0 = e0 / UNIT;
            for (uint k = 0; k < STEP; ++k) {
                const uint jt = lane + LANES * k, j = j0 + jt;
                if (!valid || j >= units) break;
                float v[MAX_UNIT];
                weight_unit(o, j, p.n_in, p.n_out, v);
                for (uint r = 0; r < ROWS; ++r) {  // a constant bound: acc stays in registers
                    if (r >= rows) break;
                    const uint xb = r * TILE + jt * UNIT;
                    for (uint m = 0; m < UNIT; ++m) acc[r] += v[m] * xs[xb + m];
                }
            }
            barrier();
        }
        reduce_and_store(acc, r0, rows, o, valid);
    }
}
