// The llama family: llama (incl. llama 3 rope_freqs), qwen2 (q/k/v bias) and qwen3 (per-head q/k
// norm, NEOX rope). One forward; the variants are hyperparameter flags.
#include <cmath>
#include <memory>

#include "models/arch.h"
#include "models/gguf/gguf.h"
#include "models/loader.h"

namespace tandem {
namespace {

struct llama_layer {
    weight attn_norm;             // (n_embd)
    weight wq, wk, wv, wo;        // (n_embd -> n_head*hd), (n_embd -> n_kv*hd) x2, (n_head*hd -> n_embd)
    weight bq, bk, bv;            // qwen2 biases, or empty
    weight q_norm, k_norm;        // qwen3 per-head norms (hd), or empty
    weight ffn_norm;              // (n_embd)
    weight w_gate, w_up, w_down;  // (n_embd -> n_ff) x2, (n_ff -> n_embd)
};

struct llama_config {
    int64_t n_embd = 0, n_layer = 0, n_head = 0, n_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0;
    float eps = 1e-5f;
    rope_config rope;
};

class llama_model final : public model {
  public:
    llama_model(const gguf::file& f, backend& be) {
        model_loader ld(f, be);
        ld.refuse_moe();
        llama_config& c = cfg_;
        c.n_embd = ld.get_int("embedding_length");
        c.n_layer = ld.get_int("block_count");
        c.n_head = ld.get_int("attention.head_count");
        c.n_kv = ld.get_int("attention.head_count_kv", c.n_head);
        c.head_dim = ld.get_int("attention.key_length", c.n_head > 0 ? c.n_embd / c.n_head : 0);
        c.n_ff = ld.get_int("feed_forward_length");
        c.eps = ld.get_float("attention.layer_norm_rms_epsilon");
        if (c.n_layer <= 0 || c.n_head <= 0 || c.n_kv <= 0 || c.n_head % c.n_kv != 0 || c.head_dim <= 0) {
            ld.fail("inconsistent attention hyperparameters (heads " + std::to_string(c.n_head) + ", kv heads " +
                    std::to_string(c.n_kv) + ", head dim " + std::to_string(c.head_dim) + ")");
        }
        if (ld.get_int("attention.value_length", c.head_dim) != c.head_dim) ld.fail("value_length != key_length");
        c.rope.n_rot = static_cast<int32_t>(ld.get_int("rope.dimension_count", c.head_dim));
        c.rope.freq_base = ld.get_float("rope.freq_base", 10000.0f);
        c.rope.neox = ld.arch() != "llama";
        load_rope_scaling(ld);
        c.n_vocab = ld.rows_of("token_embd.weight");

        const auto [table, output] = ld.require_embeddings("token_embd.weight", "output.weight", c.n_embd, c.n_vocab);
        tok_embd_ = table;
        output_ = output;  // the table itself when tied
        out_norm_ = ld.require_f32("output_norm.weight", {c.n_embd});
        rope_freqs_ = ld.optional_f32("rope_freqs.weight", {c.rope.n_rot / 2});
        const int64_t q_w = c.n_head * c.head_dim, kv_w = c.n_kv * c.head_dim;
        for (int64_t i = 0; i < c.n_layer; ++i) {
            const std::string p = "blk." + std::to_string(i) + ".";
            llama_layer L;
            L.attn_norm = ld.require_f32(p + "attn_norm.weight", {c.n_embd});
            L.wq = ld.require(p + "attn_q.weight", {c.n_embd, q_w});
            L.wk = ld.require(p + "attn_k.weight", {c.n_embd, kv_w});
            L.wv = ld.require(p + "attn_v.weight", {c.n_embd, kv_w});
            L.wo = ld.require(p + "attn_output.weight", {q_w, c.n_embd});
            L.bq = ld.optional_f32(p + "attn_q.bias", {q_w});
            L.bk = ld.optional_f32(p + "attn_k.bias", {kv_w});
            L.bv = ld.optional_f32(p + "attn_v.bias", {kv_w});
            L.q_norm = ld.optional_f32(p + "attn_q_norm.weight", {c.head_dim});
            L.k_norm = ld.optional_f32(p + "attn_k_norm.weight", {c.head_dim});
            L.ffn_norm = ld.require_f32(p + "ffn_norm.weight", {c.n_embd});
            L.w_gate = ld.require(p + "ffn_gate.weight", {c.n_embd, c.n_ff});
            L.w_up = ld.require(p + "ffn_up.weight", {c.n_embd, c.n_ff});
            L.w_down = ld.require(p + "ffn_down.weight", {c.n_ff, c.n_embd});
            layers_.push_back(L);
        }
        info_.arch = ld.arch();
        info_.name = std::string(f.get_string("general.name").value_or(""));
        info_.n_vocab = static_cast<int32_t>(c.n_vocab);
        info_.n_embd = static_cast<int32_t>(c.n_embd);
        info_.n_layer = static_cast<int32_t>(c.n_layer);
        info_.n_ctx_train = static_cast<int32_t>(ld.get_int("context_length", 2048));
        ld.warn_unused();
    }

    const model_info& info() const override { return info_; }

    std::vector<kv_group_spec> kv_groups() const override {
        return {{static_cast<int32_t>(cfg_.n_layer), static_cast<int32_t>(cfg_.n_kv),
                 static_cast<int32_t>(cfg_.head_dim), 0}};
    }

    void forward(backend& be, const batch& b, const forward_out& out) override;

  private:
    void load_rope_scaling(const model_loader& ld) {
        const std::string type = ld.get_string("rope.scaling.type").value_or("none");
        if (type == "linear") {
            cfg_.rope.freq_scale = 1.0f / ld.get_float("rope.scaling.factor", 1.0f);
        } else if (type != "none") {
            ld.fail("rope scaling type '" + type + "' is not supported yet");
        }
    }

    llama_config cfg_;
    model_info info_;
    weight tok_embd_, out_norm_, output_, rope_freqs_;
    std::vector<llama_layer> layers_;
};

void llama_model::forward(backend& be, const batch& b, const forward_out& out) {
    const llama_config& c = cfg_;
    const batch_layout lay = be.begin(b);
    const int64_t T = lay.n_tokens, hd = c.head_dim;
    const rope_spec rope{c.rope, rope_freqs_ ? &rope_freqs_ : nullptr};

    act x = be.alloc(T, c.n_embd), h = be.alloc(T, c.n_embd);
    act q = be.alloc(T, c.n_head * hd), k = be.alloc(T, c.n_kv * hd), v = be.alloc(T, c.n_kv * hd);
    act attn = be.alloc(T, c.n_head * hd);
    act gate = be.alloc(T, c.n_ff), up = be.alloc(T, c.n_ff);
    be.embed(tok_embd_, x);
    for (int64_t il = 0; il < c.n_layer; ++il) {
        const llama_layer& L = layers_[il];
        be.rmsnorm(x, h, c.n_embd, &L.attn_norm, c.eps);
        be.matmul(L.wq, h, q);
        be.matmul(L.wk, h, k);
        be.matmul(L.wv, h, v);
        if (L.bq) be.add_row(q, L.bq);
        if (L.bk) be.add_row(k, L.bk);
        if (L.bv) be.add_row(v, L.bv);
        if (L.q_norm) be.rmsnorm(q, q, hd, &L.q_norm, c.eps);
        if (L.k_norm) be.rmsnorm(k, k, hd, &L.k_norm, c.eps);
        be.rope(q, hd, rope);
        be.rope(k, hd, rope);
        be.kv_store(0, static_cast<int32_t>(il), k, v);
        be.attention(0, static_cast<int32_t>(il), q, attn, c.n_head, 1.0f / std::sqrt(static_cast<float>(hd)), 0);
        be.matmul(L.wo, attn, h);
        be.add(x, h, x);

        be.rmsnorm(x, h, c.n_embd, &L.ffn_norm, c.eps);
        be.matmul(L.w_gate, h, gate);
        be.matmul(L.w_up, h, up);
        be.swiglu(gate, up, gate);
        be.matmul(L.w_down, gate, h);
        be.add(x, h, x);
    }
    act sel = be.alloc(lay.n_logit_rows, c.n_embd);
    be.gather_logit_rows(x, sel);
    be.rmsnorm(sel, sel, c.n_embd, &out_norm_, c.eps);
    if (!out.hidden.empty()) be.read(sel, out.hidden);
    act logits = be.alloc(lay.n_logit_rows, c.n_vocab);
    be.matmul(output_, sel, logits);
    be.read(logits, out.logits);
}

}  // namespace

std::unique_ptr<model> load_llama(const gguf::file& f, backend& be) {
    return std::make_unique<llama_model>(f, be);
}

}  // namespace tandem
