// Gemma 4 (dense): sliding-window and full layers with their own head dims and rope bases,
// rope_freqs on full layers, layers that reuse an earlier layer's KV, per-layer embeddings (PLE),
// V norm, GELU-tanh and a final logit softcap. Facts: ../shared/DESIGN.md, golden/README.md.
#include <cmath>
#include <memory>

#include "models/arch.h"
#include "models/gemma_block.h"
#include "models/gguf/gguf.h"
#include "models/loader.h"

namespace tandem {
namespace {

constexpr int32_t k_group_swa = 0, k_group_full = 1;

struct gemma4_layer {
    bool swa = false;
    kv_ref kv;  // where this layer's K/V live (its own, or a shared earlier layer's)
    bool owns_kv = false;
    int64_t head_dim = 0;
    gemma_attn_q attn;
    weight wk, wv, k_norm;  // (n_embd -> n_kv*hd) x2, (hd); empty on KV-sharing layers; wv may be empty (V = K proj)
    gemma_ffn ffn;
    weight inp_gate, proj, post_norm;  // PLE: (n_embd -> n_ple), (n_ple -> n_embd), (n_embd)
    weight out_scale;                  // (1), or empty
};

class gemma4_model final : public model {
  public:
    gemma4_model(const gguf::file& f, backend& be) {
        model_loader ld(f, be);
        ld.refuse_moe();
        n_embd_ = ld.get_int("embedding_length");
        n_layer_ = ld.get_int("block_count");
        n_head_ = ld.get_int("attention.head_count");
        eps_ = ld.get_float("attention.layer_norm_rms_epsilon");
        n_ple_ = ld.get_int("embedding_length_per_layer_input", 0);
        softcap_ = ld.get_float("final_logit_softcapping", 0.0f);
        const int64_t n_shared = ld.get_int("attention.shared_kv_layers", 0);
        types_.load(ld, n_layer_);
        const std::vector<int64_t> n_kv = ld.get_per_layer("attention.head_count_kv", n_layer_);
        const std::vector<int64_t> n_ff = ld.get_per_layer("feed_forward_length", n_layer_);
        n_vocab_ = ld.rows_of("token_embd.weight");
        if (n_shared < 0 || n_shared >= n_layer_) ld.fail("attention.shared_kv_layers out of range");

        const auto [table, output] = ld.require_embeddings("token_embd.weight", "output.weight", n_embd_, n_vocab_);
        tok_embd_ = table;
        output_ = output;  // the table itself (tied), as in every published Gemma 4
        out_norm_ = ld.require_f32("output_norm.weight", {n_embd_});
        if (n_ple_ > 0) {
            ple_embd_ = ld.require_table("per_layer_token_embd.weight", {n_layer_ * n_ple_, n_vocab_});
            ple_proj_ = ld.require("per_layer_model_proj.weight", {n_embd_, n_layer_ * n_ple_});
            ple_norm_ = ld.require_f32("per_layer_proj_norm.weight", {n_ple_});
        }
        assign_kv(ld, n_kv, n_layer_ - n_shared);
        for (int64_t i = 0; i < n_layer_; ++i) load_layer(ld, i, n_kv[i], n_ff[i]);

        info_.arch = ld.arch();
        info_.name = std::string(f.get_string("general.name").value_or(""));
        info_.n_vocab = static_cast<int32_t>(n_vocab_);
        info_.n_embd = static_cast<int32_t>(n_embd_);
        info_.n_layer = static_cast<int32_t>(n_layer_);
        info_.n_ctx_train = static_cast<int32_t>(ld.get_int("context_length", 8192));
        ld.warn_unused();
    }

    const model_info& info() const override { return info_; }
    std::vector<kv_group_spec> kv_groups() const override { return groups_; }
    void forward(backend& be, const batch& b, const forward_out& out) override;

    std::optional<mtp_anchor> anchor_for_mtp() const override {
        mtp_anchor a;
        a.tok_embd = tok_embd_;
        a.n_embd = static_cast<int32_t>(n_embd_);
        bool seen[2] = {false, false};
        for (const gemma4_layer& L : layers_) {  // the last layer of each type wins
            (L.swa ? a.last_swa : a.last_full) = L.kv;
            seen[L.swa ? 0 : 1] = true;
        }
        if (!seen[0] || !seen[1]) return std::nullopt;
        return a;
    }

  private:
    // Layers below n_own own KV; a later layer reuses the last owner of its own type.
    void assign_kv(const model_loader& ld, const std::vector<int64_t>& n_kv, int64_t n_own) {
        groups_ = {{0, 0, static_cast<int32_t>(types_.hd_swa), types_.window},
                   {0, 0, static_cast<int32_t>(types_.hd_full), 0}};
        layers_.resize(static_cast<size_t>(n_layer_));
        int64_t last_owner[2] = {-1, -1};
        for (int64_t i = 0; i < n_layer_; ++i) {
            gemma4_layer& L = layers_[i];
            L.swa = types_.swa[i];
            const int32_t g = L.swa ? k_group_swa : k_group_full;
            L.head_dim = types_.head_dim(L.swa);
            kv_group_spec& spec = groups_[g];
            if (spec.n_kv_heads != 0 && spec.n_kv_heads != n_kv[i])
                ld.fail("KV head count differs within a layer type");
            spec.n_kv_heads = static_cast<int32_t>(n_kv[i]);
            if (i < n_own) {
                L.owns_kv = true;
                L.kv = {g, spec.n_layers++};
                last_owner[g] = i;
            } else {
                if (last_owner[g] < 0)
                    ld.fail("layer " + std::to_string(i) + " shares KV but no earlier layer of its type owns any");
                L.kv = layers_[last_owner[g]].kv;
            }
        }
    }

    void load_layer(model_loader& ld, int64_t i, int64_t n_kv, int64_t n_ff) {
        gemma4_layer& L = layers_[i];
        const std::string p = "blk." + std::to_string(i) + ".";
        const int64_t hd = L.head_dim, kv_w = n_kv * hd;
        L.attn.load(ld, p, n_embd_, n_head_, hd);
        if (L.owns_kv) {
            L.wk = ld.require(p + "attn_k.weight", {n_embd_, kv_w});
            L.wv = ld.optional(p + "attn_v.weight", {n_embd_, kv_w});
            L.k_norm = ld.require_f32(p + "attn_k_norm.weight", {hd});
        }
        L.ffn.load(ld, p, n_embd_, n_ff);
        if (n_ple_ > 0) {
            L.inp_gate = ld.require(p + "inp_gate.weight", {n_embd_, n_ple_});
            L.proj = ld.require(p + "proj.weight", {n_ple_, n_embd_});
            L.post_norm = ld.require_f32(p + "post_norm.weight", {n_embd_});
        }
        L.out_scale = ld.optional_f32(p + "layer_output_scale.weight", {1});
    }

    act per_layer_inputs(backend& be, act x, int64_t T);

    int64_t n_embd_ = 0, n_layer_ = 0, n_head_ = 0, n_ple_ = 0, n_vocab_ = 0;
    float eps_ = 1e-6f, softcap_ = 0.0f;
    gemma_layer_types types_;
    model_info info_;
    std::vector<kv_group_spec> groups_;
    weight tok_embd_, out_norm_, output_, ple_embd_, ple_proj_, ple_norm_;  // output_: the LM head
    std::vector<gemma4_layer> layers_;
};

// ple (T, n_layer * n_ple) = (embd_ple[tok] * sqrt(n_ple) + norm(x W_proj / sqrt(n_embd))) / sqrt(2)
act gemma4_model::per_layer_inputs(backend& be, act x, int64_t T) {
    const int64_t w = n_layer_ * n_ple_;
    act ple = be.alloc(T, w), proj = be.alloc(T, w);
    be.embed(ple_embd_, ple);
    be.scale(ple, std::sqrt(static_cast<float>(n_ple_)));
    be.matmul(ple_proj_, x, proj);
    be.scale(proj, 1.0f / std::sqrt(static_cast<float>(n_embd_)));
    be.rmsnorm(proj, proj, n_ple_, &ple_norm_, eps_);
    be.add(ple, proj, ple);
    be.scale(ple, 1.0f / std::sqrt(2.0f));
    return ple;
}

void gemma4_model::forward(backend& be, const batch& b, const forward_out& out) {
    const batch_layout lay = be.begin(b);
    const int64_t T = lay.n_tokens;
    int64_t max_q = 0, max_kv = 0, max_ff = 0;
    for (const gemma4_layer& L : layers_) {
        max_q = std::max(max_q, n_head_ * L.head_dim);
        max_kv = std::max(max_kv, static_cast<int64_t>(groups_[L.kv.group].n_kv_heads) * L.head_dim);
        max_ff = std::max(max_ff, L.ffn.n_ff);
    }
    act x = be.alloc(T, n_embd_), h = be.alloc(T, n_embd_);
    act q_buf = be.alloc(T, max_q), k_buf = be.alloc(T, max_kv), v_buf = be.alloc(T, max_kv);
    act o_buf = be.alloc(T, max_q), gate_buf = be.alloc(T, max_ff), up_buf = be.alloc(T, max_ff);
    be.embed(tok_embd_, x);
    be.scale(x, std::sqrt(static_cast<float>(n_embd_)));
    act ple = n_ple_ > 0 ? per_layer_inputs(be, x, T) : act{};
    act g_ple = n_ple_ > 0 ? be.alloc(T, n_ple_) : act{};

    for (int64_t il = 0; il < n_layer_; ++il) {
        const gemma4_layer& L = layers_[il];
        const int64_t hd = L.head_dim, n_kv = groups_[L.kv.group].n_kv_heads;
        act q = q_buf.reshaped(T, n_head_ * hd), o = o_buf.reshaped(T, n_head_ * hd);
        const rope_spec rope = types_.rope(L.swa);
        L.attn.query(be, x, h, q, hd, rope, eps_);
        if (L.owns_kv) {
            act k = k_buf.reshaped(T, n_kv * hd), v = v_buf.reshaped(T, n_kv * hd);
            be.matmul(L.wk, h, k);
            be.matmul(L.wv ? L.wv : L.wk, h, v);
            be.rmsnorm(k, k, hd, &L.k_norm, eps_);
            be.rmsnorm(v, v, hd, nullptr, eps_);
            be.rope(k, hd, rope);
            be.kv_store(L.kv.group, L.kv.slot, k, v);
        }
        be.attention(L.kv.group, L.kv.slot, q, o, n_head_, 1.0f, L.swa ? types_.window : 0);
        L.attn.output(be, x, h, o, eps_);
        L.ffn.run(be, x, h, gate_buf, up_buf, eps_);

        if (n_ple_ > 0) {
            be.matmul(L.inp_gate, x, g_ple);
            be.geglu_tanh(g_ple, ple.cols_view(il * n_ple_, n_ple_), g_ple);
            be.matmul(L.proj, g_ple, h);
            be.rmsnorm(h, h, n_embd_, &L.post_norm, eps_);
            be.add(x, h, x);
        }
        if (L.out_scale) be.scale_by(x, L.out_scale);
    }
    act sel = be.alloc(lay.n_logit_rows, n_embd_);
    be.gather_logit_rows(x, sel);
    be.rmsnorm(sel, sel, n_embd_, &out_norm_, eps_);
    if (!out.hidden.empty()) be.read(sel, out.hidden);
    act logits = be.alloc(lay.n_logit_rows, n_vocab_);
    be.matmul(output_, sel, logits);
    if (softcap_ > 0.0f) be.softcap(logits, softcap_);
    be.read(logits, out.logits);
}

}  // namespace

std::unique_ptr<model> load_gemma4(const gguf::file& f, backend& be) {
    return std::make_unique<gemma4_model>(f, be);
}

}  // namespace tandem
