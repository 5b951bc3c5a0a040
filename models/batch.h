// A batch for one forward call: many sequences, each with any number of new tokens (a prefill
// chunk or one decode token, mixed freely), their positions and their block tables.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tandem {

constexpr int k_max_kv_groups = 4;  // gemma4: sliding and full layers (head dims differ), twice with a draft model

struct batch_seq {
    std::span<const int32_t> tokens;  // the new tokens, at positions pos0 .. pos0 + n - 1
    int32_t pos0 = 0;                 // tokens before pos0 are already in the KV cache
    // Per KV group: the sequence's block table, covering at least pos0 + n tokens.
    std::span<const int32_t> block_table[k_max_kv_groups];
    // Rows (0-based within `tokens`) whose logits are wanted, ascending; usually just the last.
    std::span<const int32_t> logit_rows;
};

struct batch {
    std::vector<batch_seq> seqs;
    int64_t n_tokens() const {
        int64_t n = 0;
        for (const batch_seq& s : seqs) n += static_cast<int64_t>(s.tokens.size());
        return n;
    }
    int64_t n_logit_rows() const {
        int64_t n = 0;
        for (const batch_seq& s : seqs) n += static_cast<int64_t>(s.logit_rows.size());
        return n;
    }
};

}  // namespace tandem
