// The three tokenization algorithms over one fragment: SentencePiece-style score merges with byte
// fallback, byte-level BPE rank merges, and BERT WordPiece (greedy longest match).
// Merge order and tie-breaks follow llama.cpp's llm_tokenizer_{spm,bpe,wpm}_session.
#include <algorithm>
#include <queue>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"

namespace tandem::tok {

namespace {

// One symbol of the doubly linked list being merged: a byte span of the text.
struct symbol {
    int32_t prev;
    int32_t next;
    size_t begin;
    size_t n;  // 0 once merged into its left neighbour
};

std::vector<symbol> split_chars(std::string_view text) {
    std::vector<symbol> syms;
    syms.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
        const size_t n = std::min(utf8_len(text[off]), text.size() - off);
        const auto idx = static_cast<int32_t>(syms.size());
        syms.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
        off += n;
    }
    return syms;
}

// Merges `right` into `left` and unlinks it.
void merge_symbols(std::vector<symbol>& syms, int32_t left, int32_t right) {
    syms[left].n += syms[right].n;
    syms[right].n = 0;
    syms[left].next = syms[right].next;
    if (syms[right].next >= 0) {
        syms[syms[right].next].prev = left;
    }
}

// A candidate merge. It is stale once either side has changed: left and right never move, left
// only grows by absorbing right (which zeroes right), so equal sizes mean the same text.
struct bigram {
    int32_t left;
    int32_t right;
    size_t size;
    float score;   // SPM: higher first
    int32_t rank;  // BPE: lower first
};

struct spm_order {
    bool operator()(const bigram& a, const bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};
struct bpe_order {
    bool operator()(const bigram& a, const bigram& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

std::string byte_token_name(char c) {  // "<0xNN>"
    static const char* hex = "0123456789ABCDEF";
    const auto b = static_cast<uint8_t>(c);
    return {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
}

void push_byte_tokens_spm(const vocab& v, std::string_view bytes, std::vector<int32_t>& out) {
    for (const char c : bytes) {
        int32_t id = v.find(byte_token_name(c));
        if (id < 0) {
            id = v.find(std::string_view(&c, 1));
        }
        if (id < 0) {
            id = v.unk_id;  // llama.cpp would abort here; a vocab without byte tokens gets <unk>
        }
        if (id >= 0) {
            out.push_back(id);
        }
    }
}

// Offers every adjacent pair, then merges the best bigram while any is left, skipping those made
// stale by an earlier merge and offering the merged symbol's new neighbours (SPM and BPE alike; only
// the queue's order and try_add's lookup differ).
template <class Queue, class TryAdd>
void merge_all(std::vector<symbol>& syms, Queue& queue, const TryAdd& try_add) {
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) {
        try_add(i - 1, i);
    }
    while (!queue.empty()) {
        const bigram b = queue.top();
        queue.pop();
        if (syms[b.left].n == 0 || syms[b.right].n == 0 || syms[b.left].n + syms[b.right].n != b.size) {
            continue;
        }
        merge_symbols(syms, b.left, b.right);
        try_add(syms[b.left].prev, b.left);
        try_add(b.left, syms[b.left].next);
    }
}

}  // namespace

void spm_encode(const vocab& v, std::string_view text, std::vector<int32_t>& out) {
    std::vector<symbol> syms = split_chars(text);
    std::priority_queue<bigram, std::vector<bigram>, spm_order> queue;
    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) {
            return;
        }
        const size_t size = syms[left].n + syms[right].n;
        const int32_t id = v.find(text.substr(syms[left].begin, size));
        if (id >= 0) {
            queue.push({left, right, size, v.score[id], 0});
        }
    };
    merge_all(syms, queue, try_add);
    for (int32_t i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) {
        const std::string_view piece = text.substr(syms[i].begin, syms[i].n);
        const int32_t id = v.find(piece);
        if (id >= 0) {
            out.push_back(id);
        } else {
            push_byte_tokens_spm(v, piece, out);
        }
    }
}

void bpe_encode_word(const vocab& v, std::string_view word, bool ignore_merges, bool byte_level,
                     std::vector<int32_t>& out) {
    if (ignore_merges) {
        const int32_t id = v.find(word);
        if (id >= 0) {
            out.push_back(id);
            return;
        }
    }
    std::vector<symbol> syms = split_chars(word);
    std::priority_queue<bigram, std::vector<bigram>, bpe_order> queue;
    std::string key;
    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) {
            return;
        }
        key.assign(word.substr(syms[left].begin, syms[left].n));
        key.push_back(' ');
        key.append(word.substr(syms[right].begin, syms[right].n));
        const auto it = v.bpe_ranks.find(key);
        if (it != v.bpe_ranks.end()) {
            queue.push({left, right, syms[left].n + syms[right].n, 0.0f, it->second});
        }
    };
    merge_all(syms, queue, try_add);
    for (int32_t i = syms.empty() ? -1 : 0; i != -1; i = syms[i].next) {
        const std::string_view piece = word.substr(syms[i].begin, syms[i].n);
        const int32_t id = v.find(piece);
        if (id >= 0) {
            out.push_back(id);
            continue;
        }
        // No token for the merged piece: llama.cpp looks each byte up as a one-byte token (or
        // <0xNN>) and silently drops those it cannot find.
        for (size_t k = 0; k < piece.size(); ++k) {
            const int32_t byte_id = byte_level ? v.find(piece.substr(k, 1)) : v.find(byte_token_name(piece[k]));
            if (byte_id >= 0) {
                out.push_back(byte_id);
            }
        }
    }
}

namespace {

bool is_chinese_char(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) ||
           (c >= 0x2B920 && c <= 0x2CEAF) ||  // 0x2B920, not 0x2B820, as in HF tokenizers
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BertNormalizer + BertPreTokenizer: split on whitespace, isolate punctuation and CJK characters.
std::vector<std::string> wpm_words(std::string_view text, bool lowercase, bool strip_accents) {
    std::vector<std::string> words(1);
    for (uint32_t cpt : utf8_to_cpts(text)) {
        if (strip_accents) {
            cpt = cpt_nfd_base(cpt);
        }
        const cpt_flags f = cpt_flags_of(cpt);
        if (f.is_whitespace) {
            if (!words.back().empty()) {
                words.emplace_back();
            }
            continue;
        }
        if (cpt == 0 || cpt == 0xFFFD || f.is_control || (strip_accents && f.is_accent_mark)) {
            continue;
        }
        std::string s;
        utf8_append(s, lowercase ? cpt_tolower(cpt) : cpt);
        if (f.is_punctuation || (cpt < 0x7F && f.is_symbol) || is_chinese_char(cpt)) {
            if (!words.back().empty()) {
                words.emplace_back();
            }
            words.back() = std::move(s);
            words.emplace_back();
        } else {
            words.back() += s;
        }
    }
    if (words.back().empty()) {
        words.pop_back();
    }
    return words;
}

}  // namespace

void wpm_encode(const vocab& v, std::string_view text, bool lowercase, bool strip_accents, std::vector<int32_t>& out) {
    for (const std::string& word : wpm_words(text, lowercase, strip_accents)) {
        const std::string w = "\xE2\x96\x81" + word;  // the converter stores word starts as "▁word"
        const size_t n = w.size();
        const size_t n_before = out.size();
        for (size_t i = 0; i < n;) {
            bool matched = false;
            for (size_t j = std::min(n, i + v.max_token_len + 1); j > i; --j) {
                const int32_t id = v.find(std::string_view(w).substr(i, j - i));
                if (id >= 0) {
                    out.push_back(id);
                    matched = true;
                    i = j;
                    break;
                }
            }
            if (!matched) {  // any unmatched part discards the whole word
                out.resize(n_before);
                break;
            }
        }
        if (out.size() == n_before && v.unk_id >= 0) {
            out.push_back(v.unk_id);
        }
    }
}

}  // namespace tandem::tok
