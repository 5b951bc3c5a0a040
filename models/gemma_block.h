// Pieces shared by the Gemma 4 anchor and its MTP assistant: the feed-forward half of a block
// (norm, GELU-tanh gate * up, down, post-norm, residual) and the query side of attention.
#pragma once

#include <string>
#include <vector>

#include "models/backend.h"
#include "models/loader.h"

namespace tandem {

struct gemma_ffn {
    int64_t n_ff = 0;
    weight norm, gate, up, down, post_norm;  // (n_embd), (n_embd -> n_ff) x2, (n_ff -> n_embd), (n_embd)

    void load(model_loader& ld, const std::string& prefix, int64_t n_embd, int64_t ff) {
        n_ff = ff;
        norm = ld.require_f32(prefix + "ffn_norm.weight", {n_embd});
        gate = ld.require(prefix + "ffn_gate.weight", {n_embd, ff});
        up = ld.require(prefix + "ffn_up.weight", {n_embd, ff});
        down = ld.require(prefix + "ffn_down.weight", {ff, n_embd});
        post_norm = ld.require_f32(prefix + "post_ffw_norm.weight", {n_embd});
    }
    // x += post_norm(down(gelu_tanh(gate(norm(x))) * up(norm(x)))); h, g, u are scratch.
    void run(backend& be, act x, act h, act g_buf, act u_buf, float eps) const {
        act g = g_buf.reshaped(x.rows, n_ff), u = u_buf.reshaped(x.rows, n_ff);
        be.rmsnorm(x, h, x.cols, &norm, eps);
        be.matmul(gate, h, g);
        be.matmul(up, h, u);
        be.geglu_tanh(g, u, g);
        be.matmul(down, g, h);
        be.rmsnorm(h, h, x.cols, &post_norm, eps);
        be.add(x, h, x);
    }
};

// The two layer types of Gemma 4 (sliding and full attention): which layer is which, their head dims,
// RoPE settings (full layers use the global rope_freqs factors) and the sliding window.
struct gemma_layer_types {
    std::vector<bool> swa;  // per layer: true = sliding window
    int64_t hd_full = 0, hd_swa = 0;
    int32_t window = 0;
    rope_config rope_full, rope_swa;
    weight rope_freqs;  // (n_rot_full / 2), or empty

    void load(model_loader& ld, int64_t n_layer) {
        swa = ld.get_bool_array("attention.sliding_window_pattern", n_layer);
        window = static_cast<int32_t>(ld.get_int("attention.sliding_window"));
        hd_full = ld.get_int("attention.key_length");
        hd_swa = ld.get_int("attention.key_length_swa");
        rope_full = {static_cast<int32_t>(ld.get_int("rope.dimension_count", hd_full)), ld.get_float("rope.freq_base"),
                     1.0f, true, nullptr};
        rope_swa = {static_cast<int32_t>(ld.get_int("rope.dimension_count_swa", hd_swa)),
                    ld.get_float("rope.freq_base_swa"), 1.0f, true, nullptr};
        rope_freqs = ld.optional_f32("rope_freqs.weight", {rope_full.n_rot / 2});
    }
    int64_t head_dim(bool sliding) const { return sliding ? hd_swa : hd_full; }
    rope_spec rope(bool sliding) const {
        if (sliding) return {rope_swa, nullptr};
        return {rope_full, rope_freqs ? &rope_freqs : nullptr};
    }
};

// Query projection with its per-head norm and RoPE, and the attention output projection.
struct gemma_attn_q {
    weight norm, wq, q_norm, wo, post_norm;  // (n_embd), (n_embd -> n_head*hd), (hd), (n_head*hd -> n_embd), (n_embd)

    void load(model_loader& ld, const std::string& p, int64_t n_embd, int64_t n_head, int64_t hd) {
        norm = ld.require_f32(p + "attn_norm.weight", {n_embd});
        wq = ld.require(p + "attn_q.weight", {n_embd, n_head * hd});
        q_norm = ld.require_f32(p + "attn_q_norm.weight", {hd});
        wo = ld.require(p + "attn_output.weight", {n_head * hd, n_embd});
        post_norm = ld.require_f32(p + "post_attention_norm.weight", {n_embd});
    }
    // h = norm(x); q = rope(q_norm(h Wq))
    void query(backend& be, act x, act h, act q, int64_t hd, const rope_spec& rope, float eps) const {
        be.rmsnorm(x, h, x.cols, &norm, eps);
        be.matmul(wq, h, q);
        be.rmsnorm(q, q, hd, &q_norm, eps);
        be.rope(q, hd, rope);
    }
    // x += post_norm(o Wo)
    void output(backend& be, act x, act h, act o, float eps) const {
        be.matmul(wo, o, h);
        be.rmsnorm(h, h, x.cols, &post_norm, eps);
        be.add(x, h, x);
    }
};

}  // namespace tandem
