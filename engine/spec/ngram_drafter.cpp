// N-gram (prompt lookup) drafting: no model. Code and edited text repeat what came before, so the
// tokens that followed the last earlier occurrence of the sequence's tail are a cheap guess.
#include <algorithm>

#include "engine/spec/drafter.h"

namespace tandem {

namespace {

// Bounds the search per sequence and step: a match further back than this is not looked for.
constexpr size_t k_window = 8192;

class ngram_drafter final : public drafter {
  public:
    ngram_drafter(int32_t n_min, int32_t n_max) : n_min_(n_min), n_max_(n_max) {}
    void propose(std::span<const draft_request> reqs, std::span<const std::unique_ptr<sequence>>) override {
        for (const draft_request& r : reqs) ngram_lookup(r.seq->tokens, r.k, n_min_, n_max_, r.seq->spec.draft);
    }

  private:
    int32_t n_min_, n_max_;
};

}  // namespace

void ngram_lookup(std::span<const int32_t> tokens, int32_t k, int32_t n_min, int32_t n_max, std::vector<int32_t>& out) {
    const size_t len = tokens.size();
    const size_t lo = len > k_window ? len - k_window : 0;
    for (int32_t n = std::min<int32_t>(n_max, static_cast<int32_t>(len) - 1); n >= n_min && n >= 1; --n) {
        const std::span<const int32_t> tail = tokens.last(static_cast<size_t>(n));
        // The most recent earlier occurrence: start positions from len - n - 1 down to lo.
        for (size_t start = len - static_cast<size_t>(n); start-- > lo;) {
            if (!std::equal(tail.begin(), tail.end(), tokens.begin() + static_cast<ptrdiff_t>(start))) continue;
            const size_t from = start + static_cast<size_t>(n);
            const size_t take = std::min(static_cast<size_t>(k), len - from);
            out.insert(out.end(), tokens.begin() + static_cast<ptrdiff_t>(from),
                       tokens.begin() + static_cast<ptrdiff_t>(from + take));
            return;
        }
    }
}

std::unique_ptr<drafter> make_ngram_drafter(int32_t n_min, int32_t n_max) {
    return std::make_unique<ngram_drafter>(n_min, n_max);
}

}  // namespace tandem
