// JSON schema's `pattern` as a grammar: the JSON strings whose (decoded) content the regular
// expression matches as JSON schema means it, with ECMA-262 semantics and no implicit anchoring (a
// match anywhere in the string, unless ^ and $ anchor it).
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/grammar/grammar.h"
#include "engine/grammar/value_syntax.h"

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
// `syntax`: the strings' syntax. With raw strings (Gemma 4's <|"|>text<|"|>) characters are written
// as themselves (tab, newline and carriage return the only control characters), and the text must
// not hold the quote: it is kept out by never writing one of the quote's characters ('"' when the
// quote has one), so a pattern's strings are those of its matches without that character, and a
// pattern that can only match with it is refused, naming it.
uint32_t pattern_string(grammar_builder& b, std::string_view pattern, uint32_t multibyte,
                        const value_syntax& syntax = {});

}  // namespace tandem::gram
