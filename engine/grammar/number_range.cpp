// Ranges digit by digit: [a, b] splits by length (the lengths wholly inside as one repetition);
// within one length a common first digit is written and the rest recurses, else the range is the
// first digit's low end, its middle (any digits after it) and its high end. A number is its sign's
// magnitudes: the integer part strictly inside the bounds with any fraction, and the bounds
// themselves with the fractions they allow.
#include "engine/grammar/number_range.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace tandem::gram {
namespace {

constexpr int k_max_fraction = 16;  // fraction digits, as json_grammar's numbers

byte_set digits(char lo, char hi) {
    return byte_set{}.add_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
}
seq r(uint32_t rule) {
    return {sym_rule(rule)};
}
seq with(seq s, const byte_set& d, size_t times = 1) {
    for (size_t i = 0; i < times; ++i) s.push_back(sym_bytes(d));
    return s;
}

// The texts of [a, b] (decimal strings of one length), each after `prefix`, as alternatives.
void same_length(std::string_view a, std::string_view b, const seq& prefix, std::vector<seq>& out) {
    if (a.empty()) {
        out.push_back(prefix);
        return;
    }
    const size_t rest = a.size() - 1;
    if (a[0] == b[0]) return same_length(a.substr(1), b.substr(1), with(prefix, digits(a[0], a[0])), out);
    if (a.find_first_not_of('0', 1) == std::string_view::npos &&
        b.find_first_not_of('9', 1) == std::string_view::npos) {
        out.push_back(with(with(prefix, digits(a[0], b[0])), digits('0', '9'), rest));
        return;
    }
    same_length(a.substr(1), std::string(rest, '9'), with(prefix, digits(a[0], a[0])), out);
    if (a[0] + 1 <= b[0] - 1) out.push_back(with(with(prefix, digits(a[0] + 1, b[0] - 1)), digits('0', '9'), rest));
    same_length(std::string(rest, '0'), b.substr(1), with(prefix, digits(b[0], b[0])), out);
}

uint64_t pow10(int n) {
    uint64_t p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

int n_digits(uint64_t x) {
    int n = 1;
    while (x >= 10) x /= 10, ++n;
    return n;
}

// The decimal texts of the integers in [lo, hi], 0 <= lo <= hi, without leading zeros.
uint32_t magnitudes(grammar_builder& b, uint64_t lo, uint64_t hi) {
    std::vector<seq> alts;
    int full_from = 0, full_to = 0;  // the lengths wholly inside the range (0: none)
    for (int len = n_digits(lo); len <= n_digits(hi); ++len) {
        const uint64_t first = len == 1 ? 0 : pow10(len - 1), last = pow10(len) - 1;
        const uint64_t x = std::max(lo, first), y = std::min(hi, last);
        if (len > 1 && x == first && y == last) {
            if (full_from == 0) full_from = len;
            full_to = len;
            continue;
        }
        same_length(std::to_string(x), std::to_string(y), {}, alts);
    }
    if (full_from > 0)
        alts.push_back(
            seq_cat({with({}, digits('1', '9')), r(b.repeat(with({}, digits('0', '9')), full_from - 1, full_to - 1))}));
    return b.rule_of(alts);
}

// One sign's magnitudes m: a < m (a_exclusive) or a <= m, and m < b or m <= b (no b: up to the cap).
struct side {
    uint64_t a = 0;
    bool a_exclusive = false;
    std::optional<uint64_t> b;
    bool b_exclusive = false;
};

struct fractions {
    uint32_t any, zero, nonzero;  // ".ddd" or none; ".000" or none; a fraction with a non-zero digit
};

void side_numbers(grammar_builder& g, const side& s, const seq& sign, const fractions& f, std::vector<seq>& out) {
    if (s.b && *s.b == s.a) {
        if (!s.a_exclusive && !s.b_exclusive) out.push_back(seq_cat({sign, seq_lit(std::to_string(s.a)), r(f.zero)}));
        return;
    }
    out.push_back(seq_cat({sign, seq_lit(std::to_string(s.a)), r(s.a_exclusive ? f.nonzero : f.any)}));
    const uint64_t inner_hi = s.b ? *s.b - 1 : static_cast<uint64_t>(k_max_magnitude);
    if (s.a + 1 <= inner_hi) out.push_back(seq_cat({sign, r(magnitudes(g, s.a + 1, inner_hi)), r(f.any)}));
    if (s.b && !s.b_exclusive) out.push_back(seq_cat({sign, seq_lit(std::to_string(*s.b)), r(f.zero)}));
}

}  // namespace

uint32_t integer_range(grammar_builder& b, int64_t lo, int64_t hi) {
    std::vector<seq> alts;
    if (lo < 0) {
        const uint64_t m_lo = hi < 0 ? static_cast<uint64_t>(-hi) : 1;
        alts.push_back(seq_cat({seq_lit("-"), r(magnitudes(b, m_lo, static_cast<uint64_t>(-lo)))}));
    }
    if (hi >= 0) alts.push_back(r(magnitudes(b, static_cast<uint64_t>(std::max<int64_t>(lo, 0)), hi)));
    return b.rule_of(alts);
}

uint32_t number_range(grammar_builder& b, const number_bounds& n) {
    const seq digit = with({}, digits('0', '9'));
    const fractions f{
        b.optional(seq_cat({seq_lit("."), r(b.repeat(digit, 1, k_max_fraction))})),
        b.optional(seq_cat({seq_lit("."), r(b.repeat(seq_lit("0"), 1, k_max_fraction))})),
        b.rule_of({seq_cat({seq_lit("."), r(b.repeat(seq_lit("0"), 0, k_max_fraction - 1)), with({}, digits('1', '9')),
                            r(b.repeat(digit, 0, k_max_fraction - 1))})}),
    };
    std::vector<seq> alts;
    // x >= 0
    if (!n.hi || *n.hi > 0 || (*n.hi == 0 && !n.hi_exclusive)) {
        side s;
        if (n.lo && *n.lo >= 0) s.a = static_cast<uint64_t>(*n.lo), s.a_exclusive = n.lo_exclusive;
        if (n.hi) s.b = static_cast<uint64_t>(*n.hi), s.b_exclusive = n.hi_exclusive;
        if (!s.b || *s.b >= s.a) side_numbers(b, s, {}, f, alts);
    }
    // x < 0, by its magnitude
    if (!n.lo || *n.lo < 0) {
        side s;
        s.a_exclusive = true;  // strictly negative: a magnitude above 0
        if (n.hi && *n.hi < 0) s.a = static_cast<uint64_t>(-*n.hi), s.a_exclusive = n.hi_exclusive;
        if (n.lo) s.b = static_cast<uint64_t>(-*n.lo), s.b_exclusive = n.lo_exclusive;
        if (!s.b || *s.b >= s.a) side_numbers(b, s, seq_lit("-"), f, alts);
    }
    if (alts.empty()) throw error("no number lies within the bounds");
    return b.rule_of(alts);
}

}  // namespace tandem::gram
