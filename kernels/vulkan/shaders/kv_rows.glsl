// The device KV cache's rows (vk_kv.h): one pool buffer of uint words; block b holds, for each layer
// slot, a K part then a V part, each n_kv_heads * block_size rows (a head's rows contiguous), a row
// of head_dim elements encoded as KV_TYPE: 0 f16 (two per word), 1 q8_0 (the head_dim/32 scales as
// f32, rounded to f16 as GGUF's, then four codes per word), 2 q4_0 (scales, then eight codes + 8 per
// word, in element order).

uint kv_row_words(uint kv_type, uint head_dim) {
    return kv_type == 0 ? head_dim / 2 : kv_type == 1 ? head_dim / 32 + head_dim / 4 : head_dim / 32 + head_dim / 8;
}

// Element d of the row at word `row` of buffer `pool` (a macro, as GLSL cannot pass buffers).
#define KV_ELEM(pool, kv_type, head_dim, row, d, result)                                                   \
    {                                                                                                   \
        if ((kv_type) == 0) {                                                                            \
            const vec2 h_ = unpackHalf2x16(pool[(row) + (d) / 2]);                                        \
            result = (d) % 2 == 0 ? h_.x : h_.y;                                                        \
        } else if ((kv_type) == 1) {                                                                     \
            const uint c_ = pool[(row) + (head_dim) / 32 + (d) / 4];                                     \
            result = uintBitsToFloat(pool[(row) + (d) / 32]) * float(bitfieldExtract(int(c_), int(8 * ((d) % 4)), 8)); \
        } else {                                                                                        \
            const uint c_ = pool[(row) + (head_dim) / 32 + (d) / 8];                                     \
            result = uintBitsToFloat(pool[(row) + (d) / 32]) * (float(bitfieldExtract(c_, int(4 * ((d) % 8)), 4)) - 8.0); \
        }                                                                                               \
    }
