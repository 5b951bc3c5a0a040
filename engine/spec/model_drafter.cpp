// Draft-model drafting: a smaller model with the anchor's vocabulary and KV groups of its own in
// the same paged cache (after the anchor's, same block tables' lengths, rolled back with them).
// Each step it first catches up on every running sequence's computed tokens (prompt chunks as the
// anchor computes them, accepted tokens after a round) in one forward, whose last rows give the
// first drafts; then one forward per further draft for the drafting sequences.
#include <algorithm>

#include "engine/kv/kv_cache_manager.h"
#include "engine/runner.h"
#include "engine/spec/drafter.h"

namespace tandem {
namespace {

constexpr int64_t k_lag_rows = 16;

class model_drafter final : public drafter {
  public:
    model_drafter(runner& r, const kv_cache_manager& kv, const draft_options& o)
        : be_(*r.draft_backend()), model_(*r.draft_model()), kv_(kv), g0_(r.n_anchor_groups()), opt_(o) {
        n_groups_ = static_cast<int>(model_.kv_groups().size());
    }

    void propose(std::span<const draft_request> reqs, std::span<const std::unique_ptr<sequence>> running) override {
        // Catch-up: tokens [n_draft_kv, end) of each sequence, where end includes the last token
        // for a drafting sequence (its row gives draft 1) and stops at n_computed otherwise.
        tokens_.clear();
        feeds_.clear();
        for (const draft_request& r : reqs) {
            if (r.k > 0) add_feed(*r.seq, static_cast<int64_t>(r.seq->tokens.size()), r.k);
        }
        // A sequence that does not draft this round catches up only once it lags a block behind:
        // a draft-model forward per step for one token each would cost every plain step a few
        // percent, while whole blocks keep the prefix cache (which registers a block once both
        // models computed it) nearly in step with the anchor.
        // A retired sequence (its drafts were useless) is not caught up at all.
        for (const auto& p : running) {
            if (!p->spec.retired && !find(reqs, *p) && p->n_computed - p->spec.n_draft_kv >= k_lag_rows)
                add_feed(*p, p->n_computed, 0);
        }
        // Bound one forward's rows (drafting sequences come first): a sequence that does not fit
        // whole is fed what fits and drafts nothing this round (a long prompt catches up in chunks).
        int64_t rows = 0;
        size_t n = 0;
        for (; n < feeds_.size() && rows < opt_.max_rows; ++n) {
            feed& f = feeds_[n];
            if (f.end - f.begin > opt_.max_rows - rows) {
                f.end = f.begin + (opt_.max_rows - rows);
                f.k = 0;
            }
            rows += f.end - f.begin;
        }
        feeds_.resize(n);
        for (const feed& f : feeds_) {
            tokens_.insert(tokens_.end(), f.seq->tokens.begin() + f.begin, f.seq->tokens.begin() + f.end);
        }
        run(feeds_);
        // Further drafts: one token per drafting sequence per forward, at the next position.
        while (!feeds_.empty()) {
            tokens_.clear();
            for (feed& f : feeds_) {
                tokens_.push_back(f.seq->spec.draft.back());
                f.begin = f.end;
                f.end = f.begin + 1;
            }
            run(feeds_);
        }
    }

  private:
    struct feed {
        sequence* seq;
        int64_t begin, end;  // positions fed this forward (tokens_ holds them in feed order)
        int32_t k;           // drafts wanted (0: catch up only)
    };

    void add_feed(sequence& s, int64_t end, int32_t k) {
        if (s.spec.n_draft_kv < end) feeds_.push_back({&s, s.spec.n_draft_kv, end, k});
    }

    static const draft_request* find(std::span<const draft_request> reqs, const sequence& s) {
        for (const draft_request& r : reqs) {
            if (r.seq == &s && r.k > 0) return &r;
        }
        return nullptr;
    }

    // One forward over feeds (tokens in tokens_); appends a draft to each drafting feed and keeps
    // in `feeds` only those that want more.
    void run(std::vector<feed>& feeds) {
        if (feeds.empty()) return;
        batch_.seqs.clear();
        rows_.clear();
        for (const feed& f : feeds) rows_.push_back(static_cast<int32_t>(f.end - f.begin) - 1);
        size_t t = 0, n_logits = 0;
        for (size_t i = 0; i < feeds.size(); ++i) {
            const feed& f = feeds[i];
            const size_t n = static_cast<size_t>(f.end - f.begin);
            const std::span<const int32_t> logit_rows(&rows_[i], f.k > 0 ? 1 : 0);
            batch_.seqs.push_back(kv_batch_seq(kv_, f.seq->id, g0_, n_groups_,
                                               std::span<const int32_t>(tokens_).subspan(t, n), f.begin, logit_rows));
            n_logits += logit_rows.size();
            t += n;
        }
        const size_t n_vocab = static_cast<size_t>(model_.info().n_vocab);
        logits_.resize(n_logits * n_vocab);
        model_.forward(be_, batch_, {logits_, {}});
        size_t row = 0, kept = 0;
        for (feed& f : feeds) {
            f.seq->spec.n_draft_kv = f.end;
            if (f.k == 0) continue;
            const std::span<float> lg(logits_.data() + row++ * n_vocab, static_cast<size_t>(opt_.n_vocab));
            if (!draft_next(*f.seq, lg, opt_.p_min)) continue;
            // Feeding draft j writes position tokens.size() + j - 1: only drafts below k are fed.
            if (static_cast<int32_t>(f.seq->spec.draft.size()) < f.k) feeds[kept++] = f;
        }
        feeds.resize(kept);
    }

    backend& be_;
    model& model_;
    const kv_cache_manager& kv_;
    int g0_, n_groups_ = 0;
    draft_options opt_;
    std::vector<feed> feeds_;
    std::vector<int32_t> tokens_, rows_;
    std::vector<float> logits_;
    batch batch_;
};

}  // namespace

std::unique_ptr<drafter> make_model_drafter(runner& r, const kv_cache_manager& kv, const draft_options& o) {
    return std::make_unique<model_drafter>(r, kv, o);
}

}  // namespace tandem
