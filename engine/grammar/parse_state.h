// The character-level recognizer of a grammar (grammar.h): a pushdown automaton whose state is the
// set of live parses, each a stack of grammar positions. parse_state is the persistent form (kept per
// sequence, and the key of the token-mask cache); stack_arena is the working form, where stacks
// share their tails as nodes of one arena and advancing by a byte allocates only the changed tops.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/grammar/grammar.h"

namespace tandem::gram {

// Every live parse, each a stack of elems positions (bottom first; the top is a `bytes` element to
// match next, those below it are where to go on after a rule), and whether the input so far is a
// complete sentence of the grammar.
struct parse_state {
    std::vector<std::vector<uint32_t>> stacks;
    bool accept = false;
    bool operator==(const parse_state&) const = default;
    bool dead() const { return stacks.empty() && !accept; }
    bool can_continue() const { return !stacks.empty(); }
};

struct parse_state_hash {
    size_t operator()(const parse_state& s) const;
};

class stack_arena {
  public:
    explicit stack_arena(const grammar& g) : g_(g) {}

    // A set of parses: tops_[begin, end) are its stacks' top nodes.
    struct frame {
        uint32_t begin = 0, end = 0;
        bool accept = false;
        bool live() const { return end > begin || accept; }
        bool can_continue() const { return end > begin; }
    };
    struct mark {
        size_t n_nodes, n_tops;
    };

    void clear();
    frame start();  // the grammar's root, expanded
    frame load(const parse_state& st);
    parse_state save(const frame& f) const;
    // The parses of f after the byte b, appended after everything built so far.
    frame step(const frame& f, uint8_t b);
    // The same parses (stacks equal position by position, as many of them) and the same accept.
    bool same_frames(const frame& a, const frame& b) const;
    // Equal for frames with the same parses (the same top positions): a cheap first test.
    uint64_t signature(const frame& f) const {
        uint64_t s = f.accept;
        for (uint32_t i = f.begin; i < f.end; ++i)
            s += (nodes_[static_cast<size_t>(tops_[i])].pos + 1) * 0x9e3779b97f4a7c15ull;
        return s;
    }
    mark get_mark() const { return {nodes_.size(), tops_.size()}; }
    void reset(const mark& m) {
        nodes_.resize(m.n_nodes);
        tops_.resize(m.n_tops);
    }

  private:
    struct node {
        uint32_t pos;
        int32_t parent;  // -1: the bottom
    };
    int32_t push_node(uint32_t pos, int32_t parent);
    // Adds to the frame under construction every top reachable from `pos` (with `parent` below it)
    // without consuming a byte.
    void expand(int32_t parent, uint32_t pos, frame& f, int depth);
    void add_top(int32_t top, frame& f);
    bool same_stack(int32_t a, int32_t b) const;

    const grammar& g_;
    std::vector<node> nodes_;
    std::vector<int32_t> tops_;
};

// Convenience over stack_arena for one-off use (tests, drafts): the start state, and the state
// after some bytes (dead when they do not fit).
parse_state parse_start(const grammar& g);
parse_state parse_advance(const grammar& g, const parse_state& st, std::string_view bytes);

}  // namespace tandem::gram
