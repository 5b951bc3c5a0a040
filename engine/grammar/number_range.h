// Decimal numbers within bounds as grammar rules, for JSON schema's minimum / maximum /
// exclusiveMinimum / exclusiveMaximum: the exact set of integers in a range (digit by digit, as
// range-to-regex does), and of numbers whose bounds are integers.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/grammar/grammar.h"

namespace tandem::gram {

// The largest magnitude written: 16 digits, as json_grammar's unbounded integers.
constexpr int64_t k_max_magnitude = 9'999'999'999'999'999;

// x with lo <= x <= hi (or < when exclusive); an absent bound is +-k_max_magnitude, inclusive.
// Bounds lie within +-k_max_magnitude.
struct number_bounds {
    std::optional<int64_t> lo, hi;
    bool lo_exclusive = false, hi_exclusive = false;
};

// The JSON integers in [lo, hi] (no leading zeros, no "-0"); lo <= hi.
uint32_t integer_range(grammar_builder& b, int64_t lo, int64_t hi);
// The JSON numbers within `bounds`, written without an exponent (fractions of up to 16 digits).
// Throws tandem::error when no number is within them.
uint32_t number_range(grammar_builder& b, const number_bounds& bounds);

}  // namespace tandem::gram
