// Grammar-constrained sampling over a vocabulary: the vocabulary as a byte trie (token_index), a
// compiled grammar whose per-state token masks are computed by walking that trie against the
// recognizer and cached by parse state (compiled_grammar), and one sequence's position in its
// grammar (grammar_matcher).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/parse_state.h"

namespace tandem {
class tokenizer;
}

namespace tandem::gram {

// The vocabulary's token bytes as a trie (children of a node contiguous, by byte). Immutable.
class token_index {
  public:
    // pieces: (n_vocab) each token's bytes; "" for tokens a grammar never allows (control tokens).
    // eog: the end-of-generation tokens, allowed exactly when the grammar is complete.
    token_index(std::vector<std::string> pieces, std::vector<int32_t> eog);

    int32_t n_vocab() const { return static_cast<int32_t>(pieces_.size()); }
    const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
    bool is_eog(int32_t id) const;
    std::span<const int32_t> eog() const { return eog_; }

    struct node {
        uint32_t first_child = 0, n_children = 0;  // into nodes()
        uint32_t first_token = 0, n_tokens = 0;    // into tokens(): the tokens that end here
        uint32_t dfs_begin = 0, dfs_end = 0;       // into subtree_tokens(): this node's and its descendants'
        uint32_t below = 0;                        // into subtree_bytes(): the bytes of its descendants
        uint8_t byte = 0;                          // the byte leading here from the parent
    };
    std::span<const node> nodes() const { return nodes_; }  // nodes()[0]: the root (the empty prefix)
    std::span<const int32_t> tokens() const { return node_tokens_; }
    std::span<const int32_t> subtree_tokens() const { return dfs_tokens_; }
    const byte_set& subtree_bytes(const node& n) const { return below_sets_[n.below]; }

  private:
    std::vector<std::string> pieces_;
    std::vector<int32_t> eog_;  // sorted
    std::vector<node> nodes_;
    std::vector<int32_t> node_tokens_;
    std::vector<int32_t> dfs_tokens_;   // tokens in depth-first order: a subtree's are contiguous
    std::vector<byte_set> below_sets_;  // distinct subtree byte sets
    void index_subtrees();
};

// A tokenizer's vocabulary: each token's bytes as streaming shows them (control tokens: none), and
// its end-of-generation tokens.
token_index token_index_from(const tokenizer& tok);

// A grammar ready for sampling, shared by every request that uses it (and by the n choices of one).
// The rules are immutable; the mask cache is touched only by the engine thread.
class compiled_grammar {
  public:
    explicit compiled_grammar(grammar g) : g_(std::move(g)) {}
    const grammar& rules() const { return g_; }

    // The tokens allowed after `st` as a bitset of vocab.n_vocab() bits: those whose bytes the grammar
    // can take next, and the end-of-generation tokens when the input so far is complete.
    std::span<const uint64_t> mask(const parse_state& st, const token_index& vocab) const;
    // Masks computed (cache misses) and served, for benchmarks.
    int64_t n_computed() const { return n_computed_; }

  private:
    void compute(const parse_state& st, const token_index& vocab, std::vector<uint64_t>& bits) const;

    grammar g_;
    mutable const token_index* cache_vocab_ = nullptr;
    mutable std::unordered_map<parse_state, std::vector<uint64_t>, parse_state_hash> cache_;
    mutable int64_t n_computed_ = 0;
};

// Sets the logits of tokens not in `allowed` (a mask()) to -inf.
void mask_logits(std::span<float> logits, std::span<const uint64_t> allowed);
inline bool mask_has(std::span<const uint64_t> bits, int32_t id) {
    return (bits[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1;
}

// One sequence's position in its grammar. Owned by the sequence; engine thread only.
class grammar_matcher {
  public:
    grammar_matcher(std::shared_ptr<const compiled_grammar> g, const token_index& vocab);

    // Control tokens this sequence shows as text (sequence::shown_special, e.g. Gemma 4's
    // "<channel|>", which ends its reasoning): the vocabulary's pieces leave them out, so they are
    // allowed here where the grammar takes their text. (id, text) pairs.
    void show_tokens(std::vector<std::pair<int32_t, std::string>> shown) { shown_ = std::move(shown); }
    std::span<const uint64_t> mask() const;
    // Advances by the token if the grammar allows it; false (and no change) if not.
    bool accept(int32_t token);
    // The text so far is complete and nothing may follow it: the sequence should end here.
    bool done() const { return ended_ || (st_.accept && !st_.can_continue()); }
    bool can_end() const { return st_.accept; }
    // An end-of-generation token ended the text (not one taken as text: see accept).
    bool ended() const { return ended_; }
    const parse_state& state() const { return st_; }

  private:
    std::shared_ptr<const compiled_grammar> g_;
    const token_index& vocab_;
    parse_state st_;
    bool ended_ = false;  // an end-of-generation token was accepted
    std::vector<std::pair<int32_t, std::string>> shown_;
    mutable std::vector<uint64_t> with_shown_;  // the cached mask plus the shown tokens allowed (reused)
};

}  // namespace tandem::gram
