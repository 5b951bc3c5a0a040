// y[y_off + r * y_stride + o] = sum_i x[x_off + r * x_stride + i] * W[o][i] for r < n_rows, o < n_out,
// W in one of the device weight formats (vk_weights.h, decoded by weights.glsl), the format a
// specialization constant. For 1-8 activation rows (decode, verification): OUTS output rows per
// workgroup (matmul_lanes.glsl), each weight unit decoded once for up to 8 rows. More rows take
// passes of 8 here, or matmul_tiled.comp, which gives the same sums.
#version 450
#extension GL_GOOGLE_include_directive : require

const uint ROWS = 8;
#include "matmul_lanes.glsl"

void main() {
    const uint wg = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    const uint o = wg * OUTS + lane_slot(), lane = lane_id(), units = p.n_in / UNIT;
    const bool valid = o < p.n_out;
    for (uint r0 = 0; r0 < p.n_rows; r0 += ROWS) {
        const uint rows = min(ROWS, p.n_rows - r0);
        float acc[ROWS];
        for (uint r = 0; r < ROWS; ++r) acc[r] = 0.0;
        for (uint j = lane; valid && j < units; j += LANES) {
            float v[MAX_UNIT];
            weight_unit(o, j, p.n_in, p.n_out, v);
            for (uint r = 0; r < ROWS; ++r) {  // a constant bound: acc stays in registers
                if (r >= rows) break;
                const uint xb = p.x_off + (r0 + r) * p.x_stride + j * UNIT;
                for (uint m = 0; m < UNIT; ++m) acc[r] += v[m] * x[xb + m];
            }
        }
        reduce_and_store(acc, r0, rows, o, valid);
    }
}
