// JSON schema's `pattern` as a grammar: the JSON strings whose (decoded) content the regular
// expression matches as JSON schema means it, with ECMA-262 semantics and no implicit anchoring (a
// match anywhere in the string, unless ^ and $ anchor it).
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/grammar/grammar.h"

namespace tandem::gram {

// A rule for the JSON string (quotes included) of a text the pattern matches. The subset: literal
// characters (UTF-8 included), escapes (\d \w \s and their negations, as ASCII classes; \n \t \r \f
// \v \0, \xHH and \uHHHH of ASCII characters, escaped punctuation), classes [...] of ASCII characters
// with ranges and negation (a negated class, and `.`, also match any non-ASCII character), groups
// (capturing or (?:...)), alternation, ? * + {m} {m,} {m,n} (lazy or not: the same language), ^ at
// the start and $ at the end of a top-level alternative. Characters are written as JSON writes them
// (`"`, `\` and control characters escaped). `multibyte`: a rule for one non-ASCII UTF-8 character.
// Throws tandem::error naming what is not supported (lookaround, backreferences, \b, anchors
// elsewhere, classes of non-ASCII characters) or malformed.
uint32_t pattern_string(grammar_builder& b, std::string_view pattern, uint32_t multibyte);

}  // namespace tandem::gram
