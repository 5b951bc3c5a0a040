// The Gemma 4 MTP assistant (gemma4-assistant): a small drafter with no K/V projections and no KV
// cache. Each row embeds a token with the anchor's embedding, concatenates the anchor's (or the
// previous draft step's) hidden state h, projects to its width, runs Q-only Gemma blocks over the
// anchor's KV, and returns draft logits plus the next h. Facts: ../shared/DESIGN.md, golden/README.md.
#include <cmath>
#include <memory>

#include "common/error.h"
#include "models/gemma_block.h"
#include "models/gguf/gguf.h"
#include "models/loader.h"
#include "models/model.h"

namespace tandem {
namespace {

struct assistant_layer {
    bool swa = false;
    int64_t head_dim = 0;
    kv_ref kv;  // the anchor layer whose cache this layer reads
    gemma_attn_q attn;
    gemma_ffn ffn;
    weight out_scale;  // (1), or empty
};

class gemma4_assistant final : public mtp_drafter {
  public:
    gemma4_assistant(const gguf::file& f, backend& be, const model& anchor) {
        model_loader ld(f, be);
        if (ld.arch() != "gemma4-assistant") ld.fail("not an MTP assistant (architecture '" + ld.arch() + "')");
        ld.refuse_moe();
        const std::optional<mtp_anchor> a = anchor.anchor_for_mtp();
        if (!a) ld.fail("the anchor (" + anchor.info().arch + ") cannot host an MTP assistant");
        anchor_ = *a;
        n_embd_ = ld.get_int("embedding_length");
        const int64_t n_out = ld.get_int("embedding_length_out");
        if (n_out != anchor_.n_embd) {
            ld.fail("embedding_length_out " + std::to_string(n_out) + " differs from the anchor's width " +
                    std::to_string(anchor_.n_embd));
        }
        n_layer_ = ld.get_int("block_count");
        n_head_ = ld.get_int("attention.head_count");
        eps_ = ld.get_float("attention.layer_norm_rms_epsilon");
        types_.load(ld, n_layer_);
        const std::vector<int64_t> n_ff = ld.get_per_layer("feed_forward_length", n_layer_);
        n_vocab_ = ld.rows_of("token_embd.weight");
        tok_embd_ = ld.require("token_embd.weight", {n_embd_, n_vocab_});
        out_norm_ = ld.require_f32("output_norm.weight", {n_embd_});
        pre_proj_ = ld.require("nextn.pre_projection.weight", {2 * n_out, n_embd_});
        post_proj_ = ld.require("nextn.post_projection.weight", {n_embd_, n_out});
        for (int64_t i = 0; i < n_layer_; ++i) {
            assistant_layer L;
            L.swa = types_.swa[i];
            L.head_dim = types_.head_dim(L.swa);
            L.kv = L.swa ? anchor_.last_swa : anchor_.last_full;
            const std::string p = "blk." + std::to_string(i) + ".";
            L.attn.load(ld, p, n_embd_, n_head_, L.head_dim);
            L.ffn.load(ld, p, n_embd_, n_ff[i]);
            L.out_scale = ld.optional_f32(p + "layer_output_scale.weight", {1});
            layers_.push_back(L);
        }
        check_against_anchor(ld, anchor);
        ld.warn_unused();  // e.g. the centroid tensors of assistants that score a masked vocabulary
        info_.arch = ld.arch();
        info_.name = std::string(f.get_string("general.name").value_or(""));
        info_.n_vocab = static_cast<int32_t>(n_vocab_);
        info_.n_embd = static_cast<int32_t>(n_out);
        info_.n_layer = static_cast<int32_t>(n_layer_);
    }

    const model_info& info() const override { return info_; }
    void forward(backend& be, const batch& b, std::span<const float> h_in, const forward_out& out) override;

  private:
    // The drafter reads the anchor's cache, so its heads must have the anchor's shapes.
    void check_against_anchor(const model_loader& ld, const model& anchor) const {
        const std::vector<kv_group_spec> groups = anchor.kv_groups();
        const int64_t n_kv = ld.get_int("attention.head_count_kv");
        for (const assistant_layer& L : layers_) {
            const kv_group_spec& g = groups[static_cast<size_t>(L.kv.group)];
            if (g.head_dim != L.head_dim || g.n_kv_heads != n_kv || n_head_ % n_kv != 0) {
                ld.fail("attention shape (head dim " + std::to_string(L.head_dim) + ", kv heads " +
                        std::to_string(n_kv) + ") does not match the anchor's KV cache");
            }
        }
    }

    int64_t n_embd_ = 0, n_layer_ = 0, n_head_ = 0, n_vocab_ = 0;
    float eps_ = 1e-6f;
    gemma_layer_types types_;
    mtp_anchor anchor_;
    model_info info_;
    weight tok_embd_, out_norm_, pre_proj_, post_proj_;
    std::vector<assistant_layer> layers_;
};

void gemma4_assistant::forward(backend& be, const batch& b, std::span<const float> h_in, const forward_out& out) {
    const batch_layout lay = be.begin(b);
    const int64_t T = lay.n_tokens, D = anchor_.n_embd;
    int64_t max_q = 0, max_ff = 0;
    for (const assistant_layer& L : layers_) {
        max_q = std::max(max_q, n_head_ * L.head_dim);
        max_ff = std::max(max_ff, L.ffn.n_ff);
    }
    // z = [anchor_embd[tok] * sqrt(D) ; h]  (T, 2D) -> x = z W_pre  (T, n_embd)
    act z = be.alloc(T, 2 * D);
    be.embed(anchor_.tok_embd, z.cols_view(0, D));
    be.scale(z.cols_view(0, D), std::sqrt(static_cast<float>(D)));
    be.write(z.cols_view(D, D), h_in);
    act x = be.alloc(T, n_embd_), h = be.alloc(T, n_embd_);
    be.matmul(pre_proj_, z, x);
    act q_buf = be.alloc(T, max_q), o_buf = be.alloc(T, max_q);
    act gate_buf = be.alloc(T, max_ff), up_buf = be.alloc(T, max_ff);
    for (const assistant_layer& L : layers_) {
        const int64_t hd = L.head_dim;
        act q = q_buf.reshaped(T, n_head_ * hd), o = o_buf.reshaped(T, n_head_ * hd);
        L.attn.query(be, x, h, q, hd, types_.rope(L.swa), eps_);
        be.attention(L.kv.group, L.kv.slot, q, o, n_head_, 1.0f, L.swa ? types_.window : 0, /*see_self=*/false);
        L.attn.output(be, x, h, o, eps_);
        L.ffn.run(be, x, h, gate_buf, up_buf, eps_);
        if (L.out_scale) be.scale_by(x, L.out_scale);
    }
    act sel = be.alloc(lay.n_logit_rows, n_embd_);
    be.gather_logit_rows(x, sel);
    be.rmsnorm(sel, sel, n_embd_, &out_norm_, eps_);
    act logits = be.alloc(lay.n_logit_rows, n_vocab_);
    be.matmul(tok_embd_, sel, logits);
    be.read(logits, out.logits);
    if (!out.hidden.empty()) {
        act h_next = be.alloc(lay.n_logit_rows, D);
        be.matmul(post_proj_, sel, h_next);
        be.read(h_next, out.hidden);
    }
}

}  // namespace

std::unique_ptr<mtp_drafter> drafter_load(const gguf::file& f, backend& be, const model& anchor) {
    return std::make_unique<gemma4_assistant>(f, be, anchor);
}

}  // namespace tandem
