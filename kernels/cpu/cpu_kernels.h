// The interface every SIMD level implements (cpu/kernels_<isa>.cpp), looked up by cpu_level.
// Internal to kernels/: the public entry points are quant.h and matmul.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/types.h"

namespace tandem::cpu {

// Activation rows quantized to 8 bits in 32-element blocks, in the encoding one ISA's int8 kernels
// want (AVX-512: code + 128 as u8, scale repeated 8x per block to match the int32 lanes, except for
// q4_K: signed codes, the 8 blocks of each super-block in its decoder's step order; AVX2: signed
// code, one scale, which for K-quant weights is one scale per 256-element super-block, as llama.cpp's
// q8_K, repeated in its 8 blocks, so that the kernel sums a super-block in integers). Row r: codes q[r * n_pad ...],
// scales d[r * d_stride ...], s[r * s_stride + b] = scale * sum of the signed codes of block b (for the mins of q4_K,
// always in block order). Padding up to n_pad encodes zeros; d and s are zero up to their strides (whole groups of 8
// blocks). wt: the weight type the rows will meet.
// (For the *_0 / *_1 types one scale per 64 elements was tried: no measurable gain, as their weight
// scales still need a float step per 32 elements, and 2-5x the NMSE with outliers.)
// Where the table asks for half_sums, hs[r * h_stride + c] = the sum of the codes of elements 16c..16c+15,
// an integer within +-2032 (the mins of q2_K, q3_K and q6_K, whose scales change every 16 elements, meet
// these in integers), zero up to h_stride.
struct act_q8 {
    uint8_t* q = nullptr;
    float* d = nullptr;
    float* s = nullptr;
    int16_t* hs = nullptr;
    int64_t h_stride = 0;
    int64_t n_in = 0, n_pad = 0;  // n_pad: n_in rounded up to 64
    int64_t d_stride = 0, s_stride = 0;
    dtype wt = dtype::q8_0;
};

// The pointers of R consecutive activation rows of a, from row r0: codes, scales, block sums and
// integer half sums (null where a has none).
template <int R>
struct act_rows {
    const int8_t* q[R];
    const float* d[R];
    const float* s[R];
    const int16_t* hs[R];
    act_rows(const act_q8& a, int64_t r0) {
        for (int r = 0; r < R; ++r) {
            q[r] = reinterpret_cast<const int8_t*>(a.q + (r0 + r) * a.n_pad);
            d[r] = a.d + (r0 + r) * a.d_stride;
            s[r] = a.s + (r0 + r) * a.s_stride;
            hs[r] = a.hs ? a.hs + (r0 + r) * a.h_stride : nullptr;
        }
    }
};

// One query row of attention as the kernels read it: hd floats, and for q8_0 / q4_0 K rows also as
// 8-bit codes with one f32 scale per 32 elements, so that a score is an integer dot product per block.
struct attn_row_q {
    const float* f = nullptr;
    const int8_t* c = nullptr;
    const float* d = nullptr;
};

// Softmax factors below e^k_attn_drop are taken as 0 (attention_kernels::softmax_step).
constexpr float k_attn_drop = -40.0f;

// Query rows per attention_kernels call (the rows of one call see the same keys).
constexpr int k_attn_rows = 4;

// Attention over one block run of the paged cache, read as it is stored (f16, q8_0 or q4_0 rows of
// row_bytes, one after another), for up to k_attn_rows query rows, with the softmax taken online
// (flash-style): the arithmetic of a score, a row's softmax or an output element is fixed by that
// row's own keys and the run's bounds, whatever other rows share the call.
struct attention_kernels {
    // s[r * ns + j] = scale * q_r . k_j for j < n, r < n_rows.
    void (*scores)(dtype t, const attn_row_q* q, int n_rows, const uint8_t* k, size_t row_bytes, int n, int64_t hd,
                   float scale, float* s, int64_t ns);
    // One row's softmax over a run, online: with m' = max(m, s_j), s_j = e^(s_j - m') in place,
    // l = c * l + sum_j s_j and m = m'; returns c = e^(m - m'), the factor earlier terms shrink by.
    // A factor below e^k_attn_drop is 0: such a term is far below a float's resolution next to the
    // max's e^0 = 1, and scaled by a V block's scale it would be a subnormal, whose every FMA takes
    // a microcode assist (q8_0 V decoding ran at 60% speed on a real model's peaked attention).
    float (*softmax_step)(float* s, int n, float* m, float* l);
    // out_r[d] = c_r * out_r[d] + sum_j p[r * np + j] * v_j[d], one chain per element over j in order.
    void (*accumulate)(dtype t, const float* p, int64_t np, int n_rows, const uint8_t* v, size_t row_bytes, int n,
                       int64_t hd, const float* c, float* const* out);
};

// The activations of the feed-forward blocks and the logit softcap, elementwise: every element gets
// the same arithmetic wherever it sits in the span (a split of the work changes nothing).
struct activation_kernels {
    // out = act(gate) * up over n elements (out may alias gate or up).
    void (*swiglu)(const float* gate, const float* up, float* out, int64_t n);
    void (*geglu_tanh)(const float* gate, const float* up, float* out, int64_t n);
    void (*softcap)(float* x, int64_t n, float c);  // x = c * tanh(x / c)
};

struct kernel_table {
    cpu_level level;
    int d_per_block;           // scale floats stored per 32-element activation block
    bool half_sums;            // quantize_act fills act_q8::hs
    bool (*has_q8)(dtype wt);  // weight types with an int8 kernel (activations through quantize_act)
    void (*quantize_act)(const float* x, const act_q8& a, int64_t r);  // row r of a from x (n_in floats)
    int64_t (*act_block)(dtype wt);  // elements that share one activation scale, for weights of type wt
    // y[r * n_out + o] = W[o] . x_r for o in [o_begin, o_end), r < n_rows; W rows of row_bytes.
    void (*matmul_q8)(dtype wt, const uint8_t* w, size_t row_bytes, int64_t o_begin, int64_t o_end, int64_t n_out,
                      const act_q8& a, int64_t n_rows, float* y);
    // Float weight types with a matmul_float kernel.
    bool (*has_float)(dtype wt);
    // Same for float weights (wt with has_float); x is n_rows rows of n_in floats.
    void (*matmul_float)(dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end,
                         int64_t n_out, const float* x, int64_t n_rows, float* y);
    // Decodes n elements; false if this ISA has no fast path for t.
    bool (*dequantize)(dtype t, const void* src, float* dst, int64_t n);
    const attention_kernels* attention;     // nullptr where the level has none of its own
    const activation_kernels* activations;  // nullptr where the level has none of its own
    // Weight types with a kernel for the packed layout (kernels/pack.h); nullptr: none at this level.
    bool (*has_packed)(dtype wt);
    // As matmul_q8 over a packed weight; o_begin and o_end are multiples of 8.
    void (*matmul_packed)(dtype wt, const uint8_t* packed, int64_t o_begin, int64_t o_end, int64_t n_out,
                          const act_q8& a, int64_t n_rows, float* y);
    // As matmul_float over a packed float weight (f32, f16, bf16); o_begin and o_end are multiples of 8;
    // x as arrange_packed_float_act wrote it.
    void (*matmul_packed_float)(dtype wt, const uint8_t* packed, int64_t n_in, int64_t o_begin, int64_t o_end,
                                int64_t n_out, const float* x, int64_t n_rows, float* y);
    // n_rows rows of n_in floats into out (as many floats) in the order matmul_packed_float reads them,
    // elements [e_begin, e_end) of every row: once per call, shared by the threads. One row is read as
    // it is.
    void (*arrange_packed_float_act)(const float* x, int64_t n_rows, int64_t n_in, float* out, int64_t e_begin,
                                     int64_t e_end);
};

// The AVX2 float-weight matmul (float_matmul_avx2.cpp), as kernel_table::has_float / matmul_float.
bool avx2_has_float(dtype wt);
void avx2_matmul_float(dtype wt, const uint8_t* w, size_t row_bytes, int64_t n_in, int64_t o_begin, int64_t o_end,
                       int64_t n_out, const float* x, int64_t n_rows, float* y);

// The AVX2 packed-weight matmul (matmul_packed_avx2.cpp), as kernel_table::has_packed / matmul_packed.
bool avx2_has_packed(dtype wt);
void avx2_matmul_packed(dtype wt, const uint8_t* packed, int64_t o_begin, int64_t o_end, int64_t n_out, const act_q8& a,
                        int64_t n_rows, float* y);

void avx2_matmul_packed_float(dtype wt, const uint8_t* packed, int64_t n_in, int64_t o_begin, int64_t o_end,
                              int64_t n_out, const float* x, int64_t n_rows, float* y);
void avx2_arrange_packed_float_act(const float* x, int64_t n_rows, int64_t n_in, float* out, int64_t e_begin,
                                   int64_t e_end);

// y[i] = x[i] as f16, rounded to nearest even (F16C).
void avx2_to_f16(const float* x, uint16_t* y, int64_t n);

const attention_kernels* avx2_attention();
const activation_kernels* avx2_activations();

const kernel_table* avx2_kernels();
const kernel_table* avx512_kernels();
// The table for a level (nullptr for scalar).
const kernel_table* kernels_for(cpu_level level);

// The table of the highest level up to the active one for which has(table) holds, or nullptr: a
// level borrows a lower level's kernel for what it has none of.
template <class Has>
const kernel_table* table_where(Has has) {
    for (int l = static_cast<int>(cpu_level_active()); l > static_cast<int>(cpu_level::scalar); --l) {
        const kernel_table* k = kernels_for(static_cast<cpu_level>(l));
        if (k && has(*k)) return k;
    }
    return nullptr;
}

}  // namespace tandem::cpu
