// The token trie, the trie walk that computes a state's mask, its cache, and the matcher.
#include "engine/grammar/token_mask.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "common/check.h"

namespace tandem::gram {
namespace {

constexpr size_t k_cache_bytes = size_t{16}
                                 << 20;  // masks cached per grammar, at most (with 16 grammars cached: 256 MiB)

bool subset(const byte_set& a, const byte_set& b) {
    for (size_t i = 0; i < a.bits.size(); ++i) {
        if (a.bits[i] & ~b.bits[i]) return false;
    }
    return true;
}

// Depth-first walk of the trie below a node: a token is allowed when some parse takes all its bytes.
// Inside a string most bytes lead the recognizer back to the very state it was in (that state's
// "loop bytes"). Such a state becomes an anchor: while the walk is in it, a loop byte costs no step,
// and a subtree whose bytes are all loop bytes is allowed whole. The root state is always an anchor;
// another state becomes one when a step above a large subtree leads back to it.
struct trie_walk {
    const token_index& vocab;
    stack_arena& arena;
    std::vector<uint64_t>& bits;
    struct anchor {
        stack_arena::frame f;
        byte_set loop;  // bytes b with step(f, b) the same parses as f
        uint64_t sig = 0;
    };
    std::vector<anchor> anchors;                         // anchors[0]: the root
    static constexpr uint32_t k_anchor_min_tokens = 16;  // smaller subtrees are not worth 256 steps

    void allow(uint32_t first, uint32_t n, std::span<const int32_t> ids) {
        for (uint32_t t = first; t < first + n; ++t) {
            const int32_t id = ids[t];
            bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
        }
    }

    int32_t make_anchor(const stack_arena::frame& f) {
        anchor a{f, {}, arena.signature(f)};
        for (int b = 0; b < 256; ++b) {
            const stack_arena::mark m = arena.get_mark();
            if (arena.same_frames(arena.step(f, static_cast<uint8_t>(b)), f)) a.loop.add(static_cast<uint8_t>(b));
            arena.reset(m);
        }
        anchors.push_back(a);
        return static_cast<int32_t>(anchors.size() - 1);
    }

    void start(const stack_arena::frame& root) { walk(0, root, make_anchor(root)); }

    // f: the parses after node n's bytes; anc: the anchor whose state f is, or -1.
    void walk(uint32_t n, const stack_arena::frame& f, int32_t anc) {
        const token_index::node& nd = vocab.nodes()[n];
        const size_t n_anchors = anchors.size();
        for (uint32_t c = nd.first_child; c < nd.first_child + nd.n_children; ++c) {
            const token_index::node& child = vocab.nodes()[c];
            if (anc >= 0 && anchors[static_cast<size_t>(anc)].loop.has(child.byte)) {
                if (subset(vocab.subtree_bytes(child), anchors[static_cast<size_t>(anc)].loop)) {
                    allow(child.dfs_begin, child.dfs_end - child.dfs_begin, vocab.subtree_tokens());
                } else {
                    allow(child.first_token, child.n_tokens, vocab.tokens());
                    walk(c, f, anc);
                }
                continue;
            }
            const stack_arena::mark m = arena.get_mark();
            const stack_arena::frame next = arena.step(f, child.byte);
            if (next.live()) {
                allow(child.first_token, child.n_tokens, vocab.tokens());
                if (next.can_continue() && child.n_children > 0) walk_below(c, f, anc, next);
            }
            arena.reset(m);
        }
        anchors.resize(n_anchors);  // anchors made here hold frames of this subtree only
    }

    // The walk below child c, reached from f (anchor anc or none) by a step to `next`.
    void walk_below(uint32_t c, const stack_arena::frame& f, int32_t& anc, const stack_arena::frame& next) {
        const token_index::node& child = vocab.nodes()[c];
        const uint64_t sig = arena.signature(next);
        if (sig == anchors[0].sig && arena.same_frames(next, anchors[0].f)) return walk(c, anchors[0].f, 0);
        if (anc < 0 && child.dfs_end - child.dfs_begin >= k_anchor_min_tokens && sig == arena.signature(f) &&
            arena.same_frames(next, f)) {
            anc = make_anchor(f);  // f loops: an anchor for the rest of f's children too
            return walk(c, f, anc);
        }
        walk(c, next, -1);
    }
};

}  // namespace

token_index::token_index(std::vector<std::string> pieces, std::vector<int32_t> eog)
    : pieces_(std::move(pieces)), eog_(std::move(eog)) {
    std::sort(eog_.begin(), eog_.end());
    std::vector<int32_t> order;
    for (size_t i = 0; i < pieces_.size(); ++i) {
        if (!pieces_[i].empty() && !is_eog(static_cast<int32_t>(i))) order.push_back(static_cast<int32_t>(i));
    }
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return piece(a) < piece(b); });
    // Breadth first, so each node's children are allocated together: (node, [lo, hi) of order, depth).
    struct job {
        uint32_t node;
        size_t lo, hi, depth;
    };
    nodes_.emplace_back();
    std::deque<job> q{{0, 0, order.size(), 0}};
    while (!q.empty()) {
        const job j = q.front();
        q.pop_front();
        size_t i = j.lo;
        nodes_[j.node].first_token = static_cast<uint32_t>(node_tokens_.size());
        for (; i < j.hi && piece(order[i]).size() == j.depth; ++i) node_tokens_.push_back(order[i]);
        nodes_[j.node].n_tokens = static_cast<uint32_t>(node_tokens_.size()) - nodes_[j.node].first_token;
        // Group the rest by their byte at `depth` (sorted, so groups are runs).
        const uint32_t first_child = static_cast<uint32_t>(nodes_.size());
        uint32_t n_children = 0;
        while (i < j.hi) {
            const uint8_t b = static_cast<uint8_t>(piece(order[i])[j.depth]);
            size_t e = i;
            while (e < j.hi && static_cast<uint8_t>(piece(order[e])[j.depth]) == b) ++e;
            token_index::node child;
            child.byte = b;
            nodes_.push_back(child);
            q.push_back({first_child + n_children, i, e, j.depth + 1});
            ++n_children;
            i = e;
        }
        nodes_[j.node].first_child = first_child;
        nodes_[j.node].n_children = n_children;
    }
    index_subtrees();
}

// Children come after their parent (breadth first), so a backward pass sees every child first.
void token_index::index_subtrees() {
    std::vector<byte_set> below(nodes_.size());
    for (size_t i = nodes_.size(); i-- > 0;) {
        const node& n = nodes_[i];
        for (uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
            below[i].add(nodes_[c].byte);
            for (size_t w = 0; w < 4; ++w) below[i].bits[w] |= below[c].bits[w];
        }
    }
    struct set_hash {
        size_t operator()(const byte_set& s) const {
            return static_cast<size_t>((s.bits[0] * 31 + s.bits[1]) * 31 + s.bits[2] * 7 + s.bits[3]);
        }
    };
    std::unordered_map<byte_set, uint32_t, set_hash> ids;
    for (size_t i = 0; i < nodes_.size(); ++i) {
        auto [it, fresh] = ids.try_emplace(below[i], static_cast<uint32_t>(below_sets_.size()));
        if (fresh) below_sets_.push_back(below[i]);
        nodes_[i].below = it->second;
    }
    // Depth-first token order: (node, entered?) on an explicit stack.
    std::vector<std::pair<uint32_t, bool>> stack{{0, false}};
    while (!stack.empty()) {
        auto [n, entered] = stack.back();
        stack.pop_back();
        node& nd = nodes_[n];
        if (entered) {
            nd.dfs_end = static_cast<uint32_t>(dfs_tokens_.size());
            continue;
        }
        nd.dfs_begin = static_cast<uint32_t>(dfs_tokens_.size());
        for (uint32_t t = nd.first_token; t < nd.first_token + nd.n_tokens; ++t) dfs_tokens_.push_back(node_tokens_[t]);
        stack.push_back({n, true});
        for (uint32_t c = nd.first_child + nd.n_children; c-- > nd.first_child;) stack.push_back({c, false});
    }
}

bool token_index::is_eog(int32_t id) const {
    return std::binary_search(eog_.begin(), eog_.end(), id);
}

void compiled_grammar::compute(const parse_state& st, const token_index& vocab, std::vector<uint64_t>& bits) const {
    bits.assign((static_cast<size_t>(vocab.n_vocab()) + 63) / 64, 0);
    if (st.accept) {
        for (int32_t id : vocab.eog()) bits[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
    }
    if (!st.can_continue()) return;
    stack_arena arena(g_);
    trie_walk w{vocab, arena, bits, {}};
    w.start(arena.load(st));
}

std::span<const uint64_t> compiled_grammar::mask(const parse_state& st, const token_index& vocab) const {
    if (cache_vocab_ != &vocab) {
        cache_.clear();
        cache_vocab_ = &vocab;
    }
    if (auto it = cache_.find(st); it != cache_.end()) return it->second;
    const size_t per_mask = (static_cast<size_t>(vocab.n_vocab()) + 63) / 64 * 8;
    if ((cache_.size() + 1) * per_mask > k_cache_bytes) cache_.clear();  // crude, but bounded
    std::vector<uint64_t>& bits = cache_[st];
    compute(st, vocab, bits);
    ++n_computed_;
    return bits;
}

void mask_logits(std::span<float> logits, std::span<const uint64_t> allowed) {
    TANDEM_CHECK(allowed.size() * 64 >= logits.size());
    constexpr float k_neg_inf = -std::numeric_limits<float>::infinity();
    for (size_t w = 0; w < allowed.size(); ++w) {
        const uint64_t word = allowed[w];
        if (word == ~uint64_t{0}) continue;
        const size_t end = std::min(logits.size(), (w + 1) * 64);
        if (word == 0) {  // most words, outside strings: a plain fill
            std::fill(logits.begin() + static_cast<ptrdiff_t>(w * 64), logits.begin() + static_cast<ptrdiff_t>(end),
                      k_neg_inf);
            continue;
        }
        for (size_t i = w * 64; i < end; ++i) {
            if (!((word >> (i & 63)) & 1)) logits[i] = k_neg_inf;
        }
    }
}

grammar_matcher::grammar_matcher(std::shared_ptr<const compiled_grammar> g, const token_index& vocab)
    : g_(std::move(g)), vocab_(vocab), st_(parse_start(g_->rules())) {}

// The cached mask, unless a shown token is allowed here: then a copy with its bit set.
std::span<const uint64_t> grammar_matcher::mask() const {
    const std::span<const uint64_t> base = g_->mask(st_, vocab_);
    bool copied = false;
    for (const auto& [id, text] : shown_) {
        if (ended_ || parse_advance(g_->rules(), st_, text).dead()) continue;
        if (!copied) with_shown_.assign(base.begin(), base.end()), copied = true;
        with_shown_[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63);
    }
    return copied ? std::span<const uint64_t>(with_shown_) : base;
}

// An end-of-generation token shown as text (gpt-oss's "<|call|>", which closes a call) is that text
// where the grammar takes it, so forced calls may go on after it; elsewhere it ends the text.
bool grammar_matcher::accept(int32_t token) {
    static const std::string no_text;
    if (ended_ || token < 0 || token >= vocab_.n_vocab()) return false;
    const bool eog = vocab_.is_eog(token);
    const std::string* piece = eog ? &no_text : &vocab_.piece(token);
    for (const auto& [id, text] : shown_)
        if (id == token && piece->empty()) piece = &text;
    if (!piece->empty()) {
        parse_state next = parse_advance(g_->rules(), st_, *piece);
        if (!next.dead()) {
            st_ = std::move(next);
            return true;
        }
    }
    if (!eog || !st_.accept) return false;
    ended_ = true;
    st_.stacks.clear();
    return true;
}

}  // namespace tandem::gram
