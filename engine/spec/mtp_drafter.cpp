// MTP drafting (gemma4-assistant): step 1 feeds each sequence's last token with the anchor's hidden
// state at the row that produced it; step j+1 feeds draft j with the assistant's own next h. Every
// step sits at the sequence's next position and attends to the anchor's cache below it, so the
// assistant needs no KV of its own and nothing to roll back.
#include <algorithm>

#include "engine/kv/kv_cache_manager.h"
#include "engine/runner.h"
#include "engine/spec/drafter.h"

namespace tandem {
namespace {

class mtp_drafter_impl final : public drafter {
  public:
    mtp_drafter_impl(runner& r, const kv_cache_manager& kv, const draft_options& o)
        : be_(r.anchor_backend()), mtp_(*r.mtp()), kv_(kv), n_groups_(r.n_anchor_groups()), opt_(o) {}

    bool needs_hidden() const override { return true; }

    void propose(std::span<const draft_request> reqs, std::span<const std::unique_ptr<sequence>>) override {
        const size_t n_embd = static_cast<size_t>(mtp_.info().n_embd),
                     n_vocab = static_cast<size_t>(mtp_.info().n_vocab);
        active_.clear();
        for (const draft_request& r : reqs) {
            if (r.k > 0 && r.seq->spec.has_hidden) active_.push_back({r.seq, r.k, r.seq->tokens.back()});
        }
        for (int32_t step = 0; !active_.empty(); ++step) {
            const size_t n = active_.size();
            h_in_.resize(n * n_embd);
            rows_.assign(n, 0);
            batch_.seqs.clear();
            for (size_t i = 0; i < n; ++i) {
                const sequence& s = *active_[i].seq;
                const float* h = step == 0 ? s.spec.hidden.data() : h_out_.data() + active_[i].h_row * n_embd;
                std::copy_n(h, n_embd, h_in_.data() + i * n_embd);
                // Every draft step reads the anchor's K/V up to the last token, at the same position.
                batch_.seqs.push_back(
                    kv_batch_seq(kv_, s.id, 0, n_groups_, std::span<const int32_t>(&active_[i].token, 1),
                                 static_cast<int64_t>(s.tokens.size()) - 1, std::span<const int32_t>(&rows_[i], 1)));
            }
            logits_.resize(n * n_vocab);
            h_next_.resize(n * n_embd);
            mtp_.forward(be_, batch_, h_in_, {logits_, h_next_});
            h_out_.swap(h_next_);
            size_t kept = 0;
            for (size_t i = 0; i < n; ++i) {
                item a = active_[i];
                const std::span<float> lg(logits_.data() + i * n_vocab, static_cast<size_t>(opt_.n_vocab));
                if (!draft_next(*a.seq, lg, opt_.p_min)) continue;
                if (static_cast<int32_t>(a.seq->spec.draft.size()) >= a.k) continue;
                a.token = a.seq->spec.draft.back();
                a.h_row = i;
                active_[kept++] = a;
            }
            active_.resize(kept);
        }
    }

  private:
    struct item {
        sequence* seq;
        int32_t k;
        int32_t token;     // this step's input token
        size_t h_row = 0;  // this step's input h: row of the previous step's output
    };
    backend& be_;
    mtp_drafter& mtp_;
    const kv_cache_manager& kv_;
    int n_groups_;
    draft_options opt_;
    std::vector<item> active_;
    std::vector<float> h_in_, h_out_, h_next_, logits_;
    std::vector<int32_t> rows_;
    batch batch_;
};

}  // namespace

std::unique_ptr<drafter> make_mtp_drafter(runner& r, const kv_cache_manager& kv, const draft_options& o) {
    return std::make_unique<mtp_drafter_impl>(r, kv, o);
}

}  // namespace tandem
