// The device weight formats (vk_weights.h), decoded on the fly: weight_unit() yields a unit of UNIT
// consecutive elements of a row. The includer declares FORMAT (a specialization constant, the
// weight_format number) before the include; the weights are bound at binding 0 as uint words.
//   0 f32, 1 f16, 2 q8_0, 3 q4_0: the word layouts of vk_weights.h (scales as f32 for q8_0, q4_0);
//   4 bf16, 5 q4_1, ..., 19 tq2_0: GGUF's own blocks, rows back to back from byte 0, read by byte
//   offset (blocks of 17, 18, 22, 34, 54, 66, 110 or 210 bytes leave words unaligned, so multi-byte
//   fields are put together from two words; the upload adds one padding word for the last read).
// Every block format takes units of 16 elements: each of its sub-blocks (16, 32 or a block) has one
// scale, and the 16 codes of a unit are one bit field of 16 consecutive bytes, except where noted.
// Element orders are those of kernels/ref/dequant_ref.cpp (dequant_iq_ref.cpp for 20-26), the
// reference these decoders match.
//   20-26 iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s, iq1_s, iq1_m: GGUF's blocks, whose codes index the
//   codebooks bound at binding 3 (vk_weights.h codebook_words: the word offsets below).

layout(std430, binding = 0) readonly buffer weights { uint w[]; };
layout(std430, binding = 3) readonly buffer codebooks { uint cb[]; };

const uint F_F32 = 0, F_F16 = 1, F_Q8_0 = 2, F_Q4_0 = 3, F_BF16 = 4, F_Q4_1 = 5, F_Q5_0 = 6, F_Q5_1 = 7;
const uint F_Q2_K = 8, F_Q3_K = 9, F_Q4_K = 10, F_Q5_K = 11, F_Q6_K = 12, F_IQ4_NL = 13, F_IQ4_XS = 14;
const uint F_MXFP4 = 15, F_Q1_0 = 16, F_Q2_0 = 17, F_TQ1_0 = 18, F_TQ2_0 = 19;
const uint F_IQ2_XXS = 20, F_IQ2_XS = 21, F_IQ2_S = 22, F_IQ3_XXS = 23, F_IQ3_S = 24, F_IQ1_S = 25, F_IQ1_M = 26;
const uint CB_IQ2_XXS = 0, CB_IQ2_XS = 512, CB_IQ2_S = 1536, CB_IQ3_XXS = 3584, CB_IQ3_S = 3840, CB_IQ1_S = 4352;

const uint MAX_UNIT = 16;
const uint UNIT = FORMAT == F_F32 ? 1 : FORMAT == F_F16 || FORMAT == F_BF16 ? 2 : FORMAT == F_Q8_0 ? 4
                : FORMAT == F_Q4_0 ? 8 : 16;

const float k_iq4nl[16] = float[16](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
const float k_mxfp4[16] = float[16](0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);  // E2M1 doubled

// The 4 bytes at byte offset b, any alignment (the shift pair avoids a shift by 32 when aligned).
uint w_u32(uint b) {
    const uint s = 8 * (b & 3);
    return (w[b >> 2] >> s) | ((w[(b >> 2) + 1] << (31 - s)) << 1);
}
uint w_u8(uint b) {
    return bitfieldExtract(w[b >> 2], int(8 * (b & 3)), 8);
}
uint w_u16(uint b) {  // b even: a 16-bit field never straddles words
    return bitfieldExtract(w[b >> 2], int(8 * (b & 2)), 16);
}
float w_f16(uint b) {
    return unpackHalf2x16(w_u16(b)).x;
}

// Byte offset of the block holding element e of row `row` (rows of n_in elements in blocks of qk
// elements, bb bytes each).
uint block_at(uint row, uint n_in, uint e, uint qk, uint bb) {
    return (row * (n_in / qk) + e / qk) * bb;
}

// q[i] = bits [shift, shift + width) of byte b + i, for 16 consecutive bytes.
void bits16(uint b, uint shift, uint width, out uint q[16]) {
    for (uint k = 0; k < 4; ++k) {
        const uint word = w_u32(b + 4 * k);
        for (uint i = 0; i < 4; ++i) q[4 * k + i] = bitfieldExtract(word, int(8 * i + shift), int(width));
    }
}

// The 6-bit scale and min of sub-block s (0-7) of q4_K / q5_K from their 12 bytes at b (blocks.h).
uvec2 k_scale_min(uint b, uint s) {
    if (s < 4) return uvec2(w_u8(b + s) & 63, w_u8(b + s + 4) & 63);
    const uint c = w_u8(b + s + 4);
    return uvec2((c & 15) | ((w_u8(b + s - 4) >> 6) << 4), (c >> 4) | ((w_u8(b + s) >> 6) << 4));
}

// The plain formats and the repacked q8_0 / q4_0 (units of 1, 2, 4, 8 elements: one word).
void unit_word(uint row, uint j, uint n_in, uint n_rows, out float v[MAX_UNIT]) {
    const uint words = n_in / UNIT, nb = n_in / 32;
    if (FORMAT == F_F32) {
        v[0] = uintBitsToFloat(w[row * n_in + j]);
    } else if (FORMAT == F_F16) {
        const vec2 h = unpackHalf2x16(w[row * words + j]);
        v[0] = h.x;
        v[1] = h.y;
    } else if (FORMAT == F_BF16) {
        const uint c = w[row * words + j];
        v[0] = uintBitsToFloat(c << 16);
        v[1] = uintBitsToFloat(c & 0xffff0000u);
    } else if (FORMAT == F_Q8_0) {
        const float d = uintBitsToFloat(w[row * nb + j / 8]);
        const uint c = w[n_rows * nb + row * words + j];
        for (uint m = 0; m < 4; ++m) v[m] = d * float(bitfieldExtract(int(c), int(8 * m), 8));
    } else {
        const float d = uintBitsToFloat(w[row * nb + j / 4]);
        const uint c = w[n_rows * nb + row * words + j];
        for (uint m = 0; m < 8; ++m) v[m] = d * (float(bitfieldExtract(c, int(4 * m), 4)) - 8.0);
    }
}

// Blocks of 32 (q4_1, q5_0, q5_1, iq4_nl, mxfp4): element m < 16 is the low nibble of qs[m], element
// m + 16 the high nibble, so a unit is one nibble of each of the 16 code bytes.
void unit_32(uint row, uint j, uint n_in, out float v[MAX_UNIT]) {
    const uint e = 16 * j, half_ = e % 32;
    uint q[16];
    if (FORMAT == F_Q4_1) {
        const uint b = block_at(row, n_in, e, 32, 20);
        const float d = w_f16(b), m = w_f16(b + 2);
        bits16(b + 4, half_ / 4, 4, q);
        for (uint i = 0; i < 16; ++i) v[i] = float(q[i]) * d + m;
    } else if (FORMAT == F_Q5_0 || FORMAT == F_Q5_1) {  // bit e of the u32 qh: the 5th bit of element e
        const bool q5_1 = FORMAT == F_Q5_1;
        const uint b = block_at(row, n_in, e, 32, q5_1 ? 24 : 22), at_qh = b + (q5_1 ? 4 : 2);
        const float d = w_f16(b), m = q5_1 ? w_f16(b + 2) : 0.0;
        const uint qh = w_u32(at_qh) >> half_;
        bits16(at_qh + 4, half_ / 4, 4, q);
        for (uint i = 0; i < 16; ++i) {
            const uint c = q[i] | (((qh >> i) & 1) << 4);
            v[i] = q5_1 ? float(c) * d + m : float(int(c) - 16) * d;
        }
    } else if (FORMAT == F_IQ4_NL) {
        const uint b = block_at(row, n_in, e, 32, 18);
        const float d = w_f16(b);
        bits16(b + 2, half_ / 4, 4, q);
        for (uint i = 0; i < 16; ++i) v[i] = d * k_iq4nl[q[i]];
    } else {  // mxfp4: an E8M0 exponent, the scale 2^(e - 128) (the values are doubled)
        const uint b = block_at(row, n_in, e, 32, 17), x = w_u8(b);
        const float d = x >= 2 ? uintBitsToFloat((x - 1) << 23) : uintBitsToFloat(0x00200000u << x);
        bits16(b + 1, half_ / 4, 4, q);
        for (uint i = 0; i < 16; ++i) v[i] = d * k_mxfp4[q[i]];
    }
}

// q4_K, q5_K: 4 chunks of 64 (sub-blocks 2c and 2c + 1 in the low and high nibbles of 32 bytes);
// q5_K's 5th bit of element l of chunk c is bit 2c (2c + 1 for the high half) of qh[l].
// iq4_xs: 8 sub-blocks of 32 in iq4_nl's nibble order, 6-bit scales split into scales_l / scales_h.
void unit_k4(uint row, uint j, uint n_in, out float v[MAX_UNIT]) {
    const uint e = 16 * j, r = e % 256;
    uint q[16];
    if (FORMAT == F_IQ4_XS) {
        const uint b = block_at(row, n_in, e, 256, 136), s = r / 32;
        const uint lo = (w_u8(b + 4 + s / 2) >> (4 * (s % 2))) & 15;
        const uint hi = (w_u16(b + 2) >> (2 * s)) & 3;
        const float dl = w_f16(b) * float(int(lo | (hi << 4)) - 32);
        bits16(b + 8 + 16 * s, 4 * ((r % 32) / 16), 4, q);
        for (uint i = 0; i < 16; ++i) v[i] = dl * k_iq4nl[q[i]];
        return;
    }
    const bool q5 = FORMAT == F_Q5_K;
    const uint b = block_at(row, n_in, e, 256, q5 ? 176 : 144);
    const uint c = r / 64, high = (r % 64) / 32, l0 = r % 32;
    const uvec2 sm = k_scale_min(b + 4, 2 * c + high);
    const float ds = w_f16(b) * float(sm.x), dm = w_f16(b + 2) * float(sm.y);
    bits16(b + (q5 ? 48 : 16) + 32 * c + l0, 4 * high, 4, q);
    uint h[16];
    if (q5) bits16(b + 16 + l0, 2 * c + high, 1, h);
    for (uint i = 0; i < 16; ++i) v[i] = ds * float(q5 ? q[i] | (h[i] << 4) : q[i]) - dm;
}

// q2_K, q3_K, q6_K, tq2_0: two halves of 128; in half h, element 32g + l takes bits of byte l of the
// half's 32 code bytes (2 bits at 2g: q2_K, q3_K, tq2_0; q6_K: a nibble of 64 bytes plus 2 bits of qh).
void unit_k2(uint row, uint j, uint n_in, out float v[MAX_UNIT]) {
    const uint e = 16 * j, r = e % 256, h = r / 128, t = r % 128, g = t / 32, l0 = t % 32;
    uint q[16];
    if (FORMAT == F_Q6_K) {
        const uint b = block_at(row, n_in, e, 256, 210);
        bits16(b + 64 * h + t % 64, 4 * (t / 64), 4, q);
        uint hq[16];
        bits16(b + 128 + 32 * h + l0, 2 * g, 2, hq);
        const float ds = w_f16(b + 208) * float(bitfieldExtract(int(w_u8(b + 192 + 8 * h + t / 16)), 0, 8));
        for (uint i = 0; i < 16; ++i) v[i] = ds * float(int(q[i] | (hq[i] << 4)) - 32);
    } else if (FORMAT == F_Q2_K) {
        const uint b = block_at(row, n_in, e, 256, 84), sc = w_u8(b + 8 * h + 2 * g + l0 / 16);
        const float ds = w_f16(b + 80) * float(sc & 15), dm = w_f16(b + 82) * float(sc >> 4);
        bits16(b + 16 + 32 * h + l0, 2 * g, 2, q);
        for (uint i = 0; i < 16; ++i) v[i] = ds * float(q[i]) - dm;
    } else if (FORMAT == F_Q3_K) {  // 16 signed 6-bit scales (minus 32) packed in 12 bytes (blocks.h)
        const uint b = block_at(row, n_in, e, 256, 110), s = 8 * h + 2 * g + l0 / 16;
        const uint lo = s < 8 ? w_u8(b + 96 + s) & 15 : w_u8(b + 96 + s - 8) >> 4;
        const uint hi = (w_u8(b + 104 + s % 4) >> (2 * (s / 4))) & 3;
        const float ds = w_f16(b + 108) * float(int(lo | (hi << 4)) - 32);
        bits16(b + 32 + 32 * h + l0, 2 * g, 2, q);
        uint hm[16];
        bits16(b + l0, 4 * h + g, 1, hm);
        for (uint i = 0; i < 16; ++i) v[i] = ds * float(int(q[i]) - (hm[i] != 0 ? 0 : 4));
    } else {  // tq2_0
        const uint b = block_at(row, n_in, e, 256, 66);
        const float d = w_f16(b + 64);
        bits16(b + 32 * h + l0, 2 * g, 2, q);
        for (uint i = 0; i < 16; ++i) v[i] = d * float(int(q[i]) - 1);
    }
}

// q1_0 (blocks of 128: element i is bit i % 8 of qs[i / 8], d or -d), q2_0 (blocks of 64: element i
// is bits 2 * (i % 4) of qs[i / 4], (code - 1) * d): a unit is 2 or 4 bytes of bit-packed codes.
// tq1_0: base-3 digits, five per byte of qs (bytes 0-31 elements 0-159, digit n of byte m being
// element 32n + m; bytes 32-47 elements 160-239 likewise in 16s) and four per byte of qh (the last 16).
void unit_packed(uint row, uint j, uint n_in, out float v[MAX_UNIT]) {
    const uint e = 16 * j;
    if (FORMAT == F_Q1_0) {
        const uint b = block_at(row, n_in, e, 128, 18), bits = w_u32(b + 2 + (e % 128) / 8);
        const float d = w_f16(b);
        for (uint i = 0; i < 16; ++i) v[i] = ((bits >> i) & 1) != 0 ? d : -d;
    } else if (FORMAT == F_Q2_0) {
        const uint b = block_at(row, n_in, e, 64, 18), bits = w_u32(b + 2 + (e % 64) / 4);
        const float d = w_f16(b);
        for (uint i = 0; i < 16; ++i) v[i] = d * float(int((bits >> (2 * i)) & 3) - 1);
    } else {
        const uint b = block_at(row, n_in, e, 256, 54), r = e % 256;
        const float d = w_f16(b + 52);
        const uint pow3[5] = uint[5](1, 3, 9, 27, 81);
        uint q[16];
        if (r < 240) {
            bits16(r < 160 ? b + r % 32 : b + 32, 0, 8, q);
            const uint n = r < 160 ? r / 32 : (r - 160) / 16;
            for (uint i = 0; i < 16; ++i) q[i] = (((q[i] * pow3[n]) & 255) * 3) >> 8;
        } else {
            for (uint i = 0; i < 16; ++i) q[i] = (((w_u8(b + 48 + i % 4) * pow3[i / 4]) & 255) * 3) >> 8;
        }
        for (uint i = 0; i < 16; ++i) v[i] = d * (float(q[i]) - 1.0);
    }
}

// Byte k (0-7) of 8-element point i of the codebook at word offset t, and byte k (0-3) of a 4-element one.
uint cb_byte8(uint t, uint i, uint k) {
    return bitfieldExtract(cb[t + 2 * i + k / 4], int(8 * (k % 4)), 8);
}
uint cb_byte4(uint t, uint i, uint k) {
    return bitfieldExtract(cb[t + i], int(8 * k), 8);
}
// A 7-bit sign pattern with its parity as bit 7 (an even number of negative elements per 8).
uint iq_signs(uint p) {
    return p | ((bitCount(p) & 1) << 7);
}
float signed_code(uint magnitude, uint signs, uint k) {
    return ((signs >> k) & 1) != 0 ? -float(magnitude) : float(magnitude);
}

// The codebook types: a unit is half of a group of 32, points 2h and 2h + 1 of 8 elements (or 4h ..
// 4h + 3 of 4) of group g; scales and signs as in dequant_iq_ref.cpp.
void unit_iq(uint row, uint j, uint n_in, out float v[MAX_UNIT]) {
    const uint e = 16 * j, r = e % 256, g = r / 32, h = (r % 32) / 16;
    if (FORMAT == F_IQ2_XXS || FORMAT == F_IQ2_XS || FORMAT == F_IQ2_S) {
        const uint bb = FORMAT == F_IQ2_XXS ? 66 : FORMAT == F_IQ2_XS ? 74 : 82;
        const uint b = block_at(row, n_in, e, 256, bb);
        const float d = w_f16(b);
        for (uint p = 0; p < 2; ++p) {
            const uint l = 2 * h + p;
            uint index, signs, s, t;
            if (FORMAT == F_IQ2_XXS) {
                const uint aux = w_u32(b + 2 + 8 * g + 4);
                index = w_u8(b + 2 + 8 * g + l);
                signs = iq_signs((aux >> (7 * l)) & 127);
                s = aux >> 28;
                t = CB_IQ2_XXS;
            } else if (FORMAT == F_IQ2_XS) {
                const uint q = w_u16(b + 2 + 2 * (4 * g + l));
                index = q & 511;
                signs = iq_signs(q >> 9);
                s = (w_u8(b + 66 + g) >> (4 * h)) & 15;
                t = CB_IQ2_XS;
            } else {
                index = w_u8(b + 2 + 4 * g + l) | (((w_u8(b + 66 + g) >> (2 * l)) & 3) << 8);
                signs = w_u8(b + 34 + 4 * g + l);
                s = (w_u8(b + 74 + g) >> (4 * h)) & 15;
                t = CB_IQ2_S;
            }
            const float dl = d * (0.5 + float(s)) * 0.25;
            for (uint k = 0; k < 8; ++k) v[8 * p + k] = dl * signed_code(cb_byte8(t, index, k), signs, k);
        }
    } else if (FORMAT == F_IQ3_XXS || FORMAT == F_IQ3_S) {
        const bool xxs = FORMAT == F_IQ3_XXS;
        const uint b = block_at(row, n_in, e, 256, xxs ? 98 : 110);
        const float d = w_f16(b);
        float dl;
        uint aux = 0;
        if (xxs) {
            aux = w_u32(b + 66 + 4 * g);
            dl = d * (0.5 + float(aux >> 28)) * 0.5;
        } else {
            dl = d * float(1 + 2 * ((w_u8(b + 106 + g / 2) >> (4 * (g % 2))) & 15));
        }
        for (uint p = 0; p < 4; ++p) {
            const uint m = 4 * h + p;  // the point's place in its group; elements 4m .. 4m + 3
            uint index, signs;
            if (xxs) {
                index = w_u8(b + 2 + 8 * g + m);
                signs = iq_signs((aux >> (7 * (m / 2))) & 127) >> (4 * (m % 2));
            } else {
                index = w_u8(b + 2 + 8 * g + m) | (((w_u8(b + 66 + g) >> m) & 1) << 8);
                signs = w_u8(b + 74 + 4 * g + m / 2) >> (4 * (m % 2));
            }
            const uint t = xxs ? CB_IQ3_XXS : CB_IQ3_S;
            for (uint k = 0; k < 4; ++k) v[4 * p + k] = dl * signed_code(cb_byte4(t, index, k), signs, k);
        }
    } else {  // iq1_s, iq1_m: value dl * (point + delta), point bytes in {-1, 0, 1}
        const bool m1 = FORMAT == F_IQ1_M;
        const uint b = block_at(row, n_in, e, 256, m1 ? 56 : 50);
        for (uint p = 0; p < 2; ++p) {
            const uint l = 2 * h + p;
            uint index;
            float dl, delta;
            if (m1) {
                const uint s0 = w_u16(b + 48), s1 = w_u16(b + 50), s2 = w_u16(b + 52), s3 = w_u16(b + 54);
                const float d = unpackHalf2x16((s0 >> 12) | ((s1 >> 8) & 0xf0) | ((s2 >> 4) & 0xf00) | (s3 & 0xf000)).x;
                const uint sw = w_u16(b + 48 + 2 * (g / 2));
                dl = d * float(2 * ((sw >> (6 * (g % 2) + 3 * (l / 2))) & 7) + 1);
                const uint qh = w_u8(b + 32 + 2 * g + l / 2) >> (4 * (l % 2));
                delta = (qh & 8) != 0 ? -0.125 : 0.125;
                index = w_u8(b + 4 * g + l) | ((qh & 7) << 8);
            } else {
                const uint qh = w_u16(b + 34 + 2 * g);
                dl = w_f16(b) * float(2 * ((qh >> 12) & 7) + 1);
                delta = (qh & 0x8000) != 0 ? -0.125 : 0.125;
                index = w_u8(b + 2 + 4 * g + l) | (((qh >> (3 * l)) & 7) << 8);
            }
            for (uint k = 0; k < 8; ++k)
                v[8 * p + k] = dl * (float(bitfieldExtract(int(cb_byte8(CB_IQ1_S, index, k)), 0, 8)) + delta);
        }
    }
}

// The UNIT weights of unit j (elements j * UNIT ...) of row `row` of a part of n_rows rows.
void weight_unit(uint row, uint j, uint n_in, uint n_rows, out float v[MAX_UNIT]) {
    if (FORMAT <= F_BF16) {
        unit_word(row, j, n_in, n_rows, v);
    } else if (FORMAT <= F_Q5_1 || FORMAT == F_IQ4_NL || FORMAT == F_MXFP4) {
        unit_32(row, j, n_in, v);
    } else if (FORMAT == F_Q4_K || FORMAT == F_Q5_K || FORMAT == F_IQ4_XS) {
        unit_k4(row, j, n_in, v);
    } else if (FORMAT == F_Q2_K || FORMAT == F_Q3_K || FORMAT == F_Q6_K || FORMAT == F_TQ2_0) {
        unit_k2(row, j, n_in, v);
    } else if (FORMAT >= F_IQ2_XXS) {
        unit_iq(row, j, n_in, v);
    } else {
        unit_packed(row, j, n_in, v);
    }
}
