// A context-free grammar over bytes, the form structured output compiles to (json_schema.h): rules
// of alternatives, each a sequence of byte sets and rule references, stored flat so a recognizer
// position is one integer. Written for Tandem (no Debian package offers a token-level grammar
// engine). Immutable once built; rules are never left-recursive and never loop on empty input.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace tandem::gram {

// A set of byte values.
struct byte_set {
    std::array<uint64_t, 4> bits{};
    bool has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
    byte_set& add(uint8_t b) {
        bits[b >> 6] |= uint64_t{1} << (b & 63);
        return *this;
    }
    byte_set& add_range(uint8_t lo, uint8_t hi) {
        for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b));
        return *this;
    }
    byte_set& remove(uint8_t b) {
        bits[b >> 6] &= ~(uint64_t{1} << (b & 63));
        return *this;
    }
    bool operator==(const byte_set&) const = default;
};

// One element of an alternative: match a byte of a set, expand a rule, or the alternative's end.
struct element {
    enum class kind : uint8_t { bytes, rule, end };
    kind what = kind::end;
    uint32_t arg = 0;  // bytes: index into grammar::sets; rule: the rule id
};

struct grammar {
    std::vector<element> elems;               // every alternative, each ended by an `end`
    std::vector<byte_set> sets;               // distinct byte sets
    std::vector<std::vector<uint32_t>> alts;  // per rule: the elems index where each alternative starts
    uint32_t root = 0;
};

// One symbol of a sequence being built.
struct sym {
    bool is_rule = false;
    uint32_t rule = 0;
    byte_set set;
};
using seq = std::vector<sym>;

sym sym_bytes(const byte_set& s);
sym sym_rule(uint32_t rule);
seq seq_lit(std::string_view text);  // the bytes of `text`, one symbol each
seq seq_cat(std::initializer_list<seq> parts);

// Builds a grammar rule by rule. Rules may refer to rules defined later (declare, then define).
class grammar_builder {
  public:
    uint32_t declare();                                   // a rule with no alternatives yet
    void add_alt(uint32_t rule, const seq& alternative);  // an empty alternative matches ""
    uint32_t rule_of(const std::vector<seq>& alternatives);
    // x repeated min..max times (max < 0: unbounded), optionally with `sep` between items. x must not
    // match "" (a repetition of an empty match would never end).
    uint32_t repeat(const seq& x, int64_t min, int64_t max, const seq& sep = {});
    uint32_t optional(const seq& x) { return rule_of({x, {}}); }
    // Any bytes (but 0) in which `trigger` does not occur, then `trigger`, then `then`: a text the
    // grammar lets through up to a marker (e.g. a reasoning block up to "</think>"). A KMP automaton
    // over the trigger, one rule per matched prefix length.
    uint32_t text_until(std::string_view trigger, const seq& then);
    size_t n_rules() const { return rules_.size(); }
    // Throws tandem::error if a rule can reach itself without consuming a byte (left recursion, or
    // a repetition of something that matches ""), which the recognizer could not expand.
    grammar finish(uint32_t root);

  private:
    void check_no_empty_loop() const;
    std::vector<std::vector<seq>> rules_;
};

}  // namespace tandem::gram
