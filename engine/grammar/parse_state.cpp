// stack_arena: expansion of rule references into byte-matching tops, one byte step at a time.
#include "engine/grammar/parse_state.h"

namespace tandem::gram {

size_t parse_state_hash::operator()(const parse_state& s) const {
    uint64_t h = s.accept ? 0x9e3779b97f4a7c15ull : 0x12345ull;
    for (const auto& st : s.stacks) {
        h = (h ^ st.size()) * 0x100000001b3ull;
        for (uint32_t p : st) h = (h ^ p) * 0x100000001b3ull;
    }
    return static_cast<size_t>(h ^ (h >> 29));
}

void stack_arena::clear() {
    nodes_.clear();
    tops_.clear();
}

int32_t stack_arena::push_node(uint32_t pos, int32_t parent) {
    nodes_.push_back({pos, parent});
    return static_cast<int32_t>(nodes_.size() - 1);
}

bool stack_arena::same_stack(int32_t a, int32_t b) const {
    while (a != b) {
        if (a < 0 || b < 0) return false;
        const node& na = nodes_[static_cast<size_t>(a)];
        const node& nb = nodes_[static_cast<size_t>(b)];
        if (na.pos != nb.pos) return false;
        a = na.parent;
        b = nb.parent;
    }
    return true;
}

bool stack_arena::same_frames(const frame& a, const frame& b) const {
    if (a.accept != b.accept || a.end - a.begin != b.end - b.begin) return false;
    auto covers = [&](const frame& x, const frame& y) {
        for (uint32_t i = x.begin; i < x.end; ++i) {
            bool found = false;
            for (uint32_t j = y.begin; j < y.end && !found; ++j) found = same_stack(tops_[i], tops_[j]);
            if (!found) return false;
        }
        return true;
    };
    return covers(a, b) && covers(b, a);
}

// Duplicates (an ambiguity that rejoined) are dropped only past k_dedup_above parses, and always
// when a state is saved: the quadratic check cost more than the duplicates in the mask walk.
constexpr uint32_t k_dedup_above = 32;

void stack_arena::add_top(int32_t top, frame& f) {
    if (f.end - f.begin >= k_dedup_above) {
        const uint32_t pos = nodes_[static_cast<size_t>(top)].pos;
        for (uint32_t i = f.begin; i < f.end; ++i) {
            if (nodes_[static_cast<size_t>(tops_[i])].pos == pos && same_stack(tops_[i], top)) return;
        }
    }
    tops_.push_back(top);
    f.end = static_cast<uint32_t>(tops_.size());
}

void stack_arena::expand(int32_t parent, uint32_t pos, frame& f, int depth) {
    // The builder refuses rules that loop without consuming, so this only cuts absurd chains of
    // rules ending at once: the parse is dropped rather than the stack overflowed.
    if (depth > 2048) return;
    const element e = g_.elems[pos];
    switch (e.what) {
        case element::kind::end:
            if (parent < 0) {
                f.accept = true;
            } else {
                const node n = nodes_[static_cast<size_t>(parent)];
                expand(n.parent, n.pos, f, depth + 1);
            }
            return;
        case element::kind::bytes:
            add_top(push_node(pos, parent), f);
            return;
        case element::kind::rule: {
            // A reference that ends its alternative is a tail call: nothing to come back to.
            const int32_t cont = g_.elems[pos + 1].what == element::kind::end ? parent : push_node(pos + 1, parent);
            for (uint32_t a : g_.alts[e.arg]) expand(cont, a, f, depth + 1);
            return;
        }
    }
}

stack_arena::frame stack_arena::start() {
    frame f;
    f.begin = f.end = static_cast<uint32_t>(tops_.size());
    for (uint32_t a : g_.alts[g_.root]) expand(-1, a, f, 0);
    return f;
}

stack_arena::frame stack_arena::load(const parse_state& st) {
    frame f;
    f.begin = f.end = static_cast<uint32_t>(tops_.size());
    f.accept = st.accept;
    for (const auto& stack : st.stacks) {
        int32_t parent = -1;
        for (uint32_t p : stack) parent = push_node(p, parent);
        tops_.push_back(parent);
    }
    f.end = static_cast<uint32_t>(tops_.size());
    return f;
}

parse_state stack_arena::save(const frame& f) const {
    parse_state st;
    st.accept = f.accept;
    for (uint32_t i = f.begin; i < f.end; ++i) {
        bool seen = false;
        for (uint32_t j = f.begin; j < i && !seen; ++j) seen = same_stack(tops_[i], tops_[j]);
        if (seen) continue;
        std::vector<uint32_t> stack;
        for (int32_t n = tops_[i]; n >= 0; n = nodes_[static_cast<size_t>(n)].parent)
            stack.push_back(nodes_[static_cast<size_t>(n)].pos);
        st.stacks.emplace_back(stack.rbegin(), stack.rend());
    }
    return st;
}

stack_arena::frame stack_arena::step(const frame& f, uint8_t b) {
    frame out;
    out.begin = out.end = static_cast<uint32_t>(tops_.size());
    for (uint32_t i = f.begin; i < f.end; ++i) {
        const node n = nodes_[static_cast<size_t>(tops_[i])];
        if (!g_.sets[g_.elems[n.pos].arg].has(b)) continue;
        expand(n.parent, n.pos + 1, out, 0);
    }
    return out;
}

parse_state parse_start(const grammar& g) {
    stack_arena a(g);
    return a.save(a.start());
}

parse_state parse_advance(const grammar& g, const parse_state& st, std::string_view bytes) {
    stack_arena a(g);
    stack_arena::frame f = a.load(st);
    for (size_t i = 0; i < bytes.size(); ++i) {
        f = a.step(f, static_cast<uint8_t>(bytes[i]));
        if (!f.can_continue()) {
            if (i + 1 < bytes.size()) f.accept = false;  // bytes left over: no parse takes them
            break;
        }
    }
    return a.save(f);
}

}  // namespace tandem::gram
