// Numeric bounds and string patterns (number_range, string_pattern) through json schemas: integer
// ranges exact against the arithmetic, numbers with integer bounds against strtold, patterns
// against std::regex_search (ECMAScript, unanchored: JSON schema's meaning) on random strings.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>

#include "common/error.h"
#include "engine/grammar/json_schema.h"
#include "engine/grammar/parse_state.h"

namespace tandem::gram {
namespace {

using json = nlohmann::ordered_json;

bool accepts(const grammar& g, const std::string& text) {
    const parse_state st = parse_advance(g, parse_start(g), text);
    return st.accept;
}

grammar compile(const json& s) {
    return grammar_from_json_schema(s, true);
}

std::string refusal(const json& s) {
    try {
        (void)compile(s);
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

TEST(SchemaValues, IntegerRangesAreExact) {
    std::vector<std::pair<int64_t, int64_t>> ranges = {{-123, 4567}, {10, 99},  {0, 0},        {-5, -1},
                                                       {7, 1000000}, {99, 101}, {-1000, -999}, {-9, 9}};
    std::mt19937 rng(7);
    std::uniform_int_distribution<int64_t> d(-3000, 3000);
    for (int i = 0; i < 20; ++i) {
        int64_t a = d(rng), b = d(rng);
        ranges.emplace_back(std::min(a, b), std::max(a, b));
    }
    for (const auto& [lo, hi] : ranges) {
        const grammar g = compile({{"type", "integer"}, {"minimum", lo}, {"maximum", hi}});
        const int64_t step = hi - lo > 20000 ? 97 : 1;
        for (int64_t x = lo - 300; x <= hi + 300; x += step)
            ASSERT_EQ(accepts(g, std::to_string(x)), x >= lo && x <= hi) << x << " in [" << lo << ", " << hi << "]";
        EXPECT_TRUE(accepts(g, std::to_string(hi)));
        EXPECT_FALSE(accepts(g, "-0"));
        EXPECT_FALSE(accepts(g, "0" + std::to_string(std::abs(hi) + 1)));  // no leading zeros
    }
}

TEST(SchemaValues, IntegerBoundsExclusiveFractionalAndOneSided) {
    const grammar ex = compile(json::parse(R"({"type":"integer","exclusiveMinimum":2.5,"exclusiveMaximum":10})"));
    for (int x = -5; x < 20; ++x) EXPECT_EQ(accepts(ex, std::to_string(x)), x >= 3 && x <= 9) << x;
    const grammar d4 = compile(json::parse(R"({"type":"integer","minimum":0,"exclusiveMinimum":true})"));
    EXPECT_FALSE(accepts(d4, "0"));
    EXPECT_TRUE(accepts(d4, "1"));
    EXPECT_TRUE(accepts(d4, "9999999999999999"));  // up to 16 digits, as unbounded integers
    EXPECT_FALSE(accepts(d4, "10000000000000000"));
    const grammar neg = compile(json::parse(R"({"type":"integer","maximum":-20})"));
    EXPECT_TRUE(accepts(neg, "-20"));
    EXPECT_TRUE(accepts(neg, "-9999999999999999"));
    EXPECT_FALSE(accepts(neg, "-19"));
    EXPECT_FALSE(accepts(neg, "5"));
    EXPECT_NE(refusal(json::parse(R"({"type":"integer","minimum":5,"maximum":4})")).find("no value"),
              std::string::npos);
    EXPECT_NE(refusal(json::parse(R"({"type":"integer","minimum":"1"})")).find("minimum must be a number"),
              std::string::npos);
}

TEST(SchemaValues, NumberRangesWithIntegerBounds) {
    struct bounds {
        const char* schema;
        long double lo, hi;
        bool lo_ex, hi_ex;
    };
    const bounds cases[] = {
        {R"({"type":"number","minimum":0,"maximum":1})", 0, 1, false, false},
        {R"({"type":"number","exclusiveMinimum":0})", 0, 1e17L, true, false},
        {R"({"type":"number","minimum":-3,"exclusiveMaximum":12})", -3, 12, false, true},
        {R"({"type":"number","exclusiveMinimum":-10,"maximum":-2})", -10, -2, true, false},
        {R"({"type":"number","minimum":5,"maximum":5})", 5, 5, false, false},
    };
    std::vector<std::string> texts;
    for (int i = -14; i <= 14; ++i) {
        const std::string sign = i < 0 ? "-" : "";
        const std::string mag = std::to_string(std::abs(i));
        for (const char* frac : {"", ".0", ".00", ".5", ".05", ".000001", ".9999"}) texts.push_back(sign + mag + frac);
    }
    for (const bounds& c : cases) {
        const grammar g = compile(json::parse(c.schema));
        for (const std::string& t : texts) {
            const long double x = std::strtold(t.c_str(), nullptr);
            const bool in = (c.lo_ex ? x > c.lo : x >= c.lo) && (c.hi_ex ? x < c.hi : x <= c.hi);
            const bool negative_zero = t[0] == '-' && x == 0;  // "-0", "-0.0": written as 0 instead
            if (!negative_zero) {
                EXPECT_EQ(accepts(g, t), in) << t << " against " << c.schema;
            }
        }
        EXPECT_FALSE(accepts(g, "1e0"));  // bounded numbers are written without an exponent
    }
    EXPECT_NE(refusal(json::parse(R"({"type":"number","minimum":0.5})")).find("whole numbers"), std::string::npos);
    EXPECT_NE(refusal(json::parse(R"({"type":"number","exclusiveMinimum":3,"maximum":3})")).find("no value"),
              std::string::npos);
}

// Random strings over an alphabet that hits the patterns' classes, and some chosen ones.
std::vector<std::string> pattern_samples() {
    const std::string alphabet = "abcdfoqrxyzAB019 -+.@\"\\\n\t{<|>";
    std::mt19937 rng(11);
    std::vector<std::string> samples = {"",    "abc",   "12-345", "foobarbaz", "color", "colour", "a@b.cd",
                                        "a_1", "axc",   "xxx",    "Ab Cd",     "\"q\"", "a\\b",   "-1.5",
                                        "bcd", "abcd",  "x]",     "ab cd",     "AB\nC", "{",      "zz",
                                        "<|>", "x<|>y", "<|\"|",  "<|\"|>"};
    for (int i = 0; i < 1500; ++i) {
        std::string s;
        const int n = static_cast<int>(rng() % 9);
        for (int k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
        samples.push_back(s);
    }
    return samples;
}

// Patterns against std::regex_search on random strings, written as JSON strings (the grammar sees
// the escaped text).
TEST(SchemaValues, PatternsMatchAsEcmaScriptSearches) {
    const char* patterns[] = {"^[a-z]+$",
                              "abc",
                              "^\\d{2}-\\d{1,3}$",
                              "^(foo|bar)+baz?$",
                              "colou?r",
                              "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",
                              "^\\w*$",
                              "^a.c$",
                              "x{2,3}",
                              "^$",
                              "^[A-Z][a-z]*( [A-Z][a-z]*)*$",
                              "\\.",
                              "^\"q\"$",
                              "^a\\\\b",
                              "^[-+]?\\d+(\\.\\d+)?$",
                              "a|^b",
                              "^(?:ab|cd){1,2}$",
                              "[\\]x]$",
                              "^\\S+\\s\\S+$",
                              "^[\\x41-\\x43\\n]*?$",
                              "\\{",
                              "^[^a-c]{2}$"};
    const std::vector<std::string> samples = pattern_samples();
    for (const char* p : patterns) {
        const grammar g = compile({{"type", "string"}, {"pattern", p}});
        const std::regex re(p, std::regex::ECMAScript);
        int n_match = 0;
        for (const std::string& s : samples) {
            const bool want = std::regex_search(s, re);
            n_match += want;
            ASSERT_EQ(accepts(g, json(s).dump()), want) << "pattern " << p << " on " << json(s).dump();
        }
        EXPECT_GT(n_match, 0) << p;  // the samples reach the accepting side too
    }
    // Non-ASCII: a literal character, and `.` / negated classes take any non-ASCII character.
    EXPECT_TRUE(accepts(compile({{"type", "string"}, {"pattern", "^caf\xc3\xa9$"}}), "\"caf\xc3\xa9\""));
    EXPECT_TRUE(accepts(compile({{"type", "string"}, {"pattern", "^.[^a]$"}}), "\"\xe2\x82\xac\xc3\xa9\""));
    EXPECT_FALSE(accepts(compile({{"type", "string"}, {"pattern", "^[a-z]$"}}), "\"\xc3\xa9\""));
}

// Gemma 4's argument strings (<|"|>text<|"|>, no escapes): a pattern's strings are its matches
// written raw and without '"' (so they never hold the quote); the same patterns against the same
// searches, and a pattern that needs '"' refused, naming it.
TEST(SchemaValues, PatternsInGemmaArgumentStrings) {
    const char* patterns[] = {"^[a-z]+$",
                              "abc",
                              "^\\d{2}-\\d{1,3}$",
                              "^(foo|bar)+baz?$",
                              "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",
                              "^a.c$",
                              "^$",
                              "^a\\\\b",
                              "^[^a-c]{2}$",
                              "<\\|>",
                              "^\\S+\\s\\S+$",
                              "\\{",
                              "^[\\x41-\\x43\\n]*?$"};
    const std::string q = "<|\"|>";
    const std::vector<std::string> samples = pattern_samples();
    for (const char* p : patterns) {
        grammar_builder b;
        json_grammar jg(b, true, value_syntax_gemma4());
        const grammar g = b.finish(jg.schema({{"type", "string"}, {"pattern", p}}));
        const std::regex re(p, std::regex::ECMAScript);
        int n_match = 0;
        for (const std::string& s : samples) {
            const bool want = std::regex_search(s, re) && s.find('"') == std::string::npos;
            n_match += want;
            ASSERT_EQ(accepts(g, q + s + q), want) << "pattern " << p << " on " << s;
        }
        EXPECT_GT(n_match, 0) << p;
        EXPECT_FALSE(accepts(g, json("abc").dump())) << p;  // JSON's quotes are not this syntax
    }
    for (const char* p : {"^\"q\"$", "[\"]", "\\x22"}) {
        grammar_builder b;
        json_grammar jg(b, true, value_syntax_gemma4());
        try {
            (void)jg.schema({{"type", "string"}, {"pattern", p}});
            ADD_FAILURE() << p << " was accepted";
        } catch (const error& e) {
            const std::string why = e.what();
            EXPECT_NE(why.find("'\"' cannot be written"), std::string::npos) << p << ": " << why;
        }
    }
}

TEST(SchemaValues, PatternsOutsideTheSubsetAreRefused) {
    for (const char* p : {"(?=a)", "(a)\\1", "a\\b", "a^b", "a$b", "[\xc3\xa9]", "(a*)*", "a{5,2}", "x{99999}",
                          "\\p{L}", "(ab", "ab)", "*a", "[a-", "\\u00e9"}) {
        const std::string why = refusal({{"type", "string"}, {"pattern", p}});
        EXPECT_NE(why.find("pattern"), std::string::npos) << p << ": " << why;
    }
    EXPECT_NE(refusal(json::parse(R"({"type":"string","pattern":"a","maxLength":3})")).find("maxLength"),
              std::string::npos);
}

}  // namespace
}  // namespace tandem::gram
