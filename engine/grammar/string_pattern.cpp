// A recursive-descent reader of the regular expression that writes grammar rules as it goes: each
// atom becomes a sequence over the JSON encoding of its characters, quantifiers become repetitions,
// and a top-level alternative without ^ or $ gets any text before or after it (JSON schema's
// patterns are not anchored). Facts from ECMA-262 (RegExp) and JSON Schema Validation section 6.3.3.
#include "engine/grammar/string_pattern.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/error.h"
#include "engine/grammar/json_schema.h"

namespace tandem::gram {
namespace {

seq r(uint32_t rule) {
    return {sym_rule(rule)};
}

// A set of characters: ASCII ones, and whether any non-ASCII character belongs to it.
struct char_class {
    byte_set ascii;
    bool non_ascii = false;
};

char_class range(int lo, int hi) {
    char_class c;
    c.ascii.add_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi));
    return c;
}

void add(char_class& to, const char_class& from) {
    for (int b = 0; b < 128; ++b)
        if (from.ascii.has(static_cast<uint8_t>(b))) to.ascii.add(static_cast<uint8_t>(b));
    to.non_ascii = to.non_ascii || from.non_ascii;
}

char_class negated(const char_class& c) {
    char_class n;
    for (int b = 0; b < 128; ++b)
        if (!c.ascii.has(static_cast<uint8_t>(b))) n.ascii.add(static_cast<uint8_t>(b));
    n.non_ascii = !c.non_ascii;
    return n;
}

class pattern_compiler {
  public:
    pattern_compiler(grammar_builder& b, std::string_view p, uint32_t multibyte, const value_syntax& syntax)
        : b_(b), p_(p), multibyte_(multibyte), syntax_(syntax) {
        if (syntax_.raw_strings) {
            if (syntax_.quote.empty()) fail("a raw string syntax without a quote");
            kept_out_ = syntax_.quote.find('"') != std::string::npos ? '"' : syntax_.quote[0];
        }
    }

    uint32_t string_rule() {
        std::vector<seq> alts;
        do {
            const bool start = eat('^');
            bool end = false;
            const piece body = sequence(true, end);
            alts.push_back(seq_cat({start ? seq{} : r(any_text()), body.s, end ? seq{} : r(any_text())}));
        } while (eat('|'));
        if (pos_ < p_.size()) fail("an unmatched ')'");
        const std::string q = syntax_.raw_strings ? syntax_.quote : "\"";
        return b_.rule_of({seq_cat({seq_lit(q), r(b_.rule_of(alts)), seq_lit(q)})});
    }

  private:
    struct piece {
        seq s;
        bool nullable = true;  // may match the empty string
    };

    [[noreturn]] void fail(const std::string& what) const {
        throw error("pattern '" + std::string(p_) + "': " + what + " (at offset " + std::to_string(pos_) + ")");
    }
    bool eat(char c) {
        if (pos_ < p_.size() && p_[pos_] == c) return ++pos_, true;
        return false;
    }
    char next() {
        if (pos_ >= p_.size()) fail("it ends too early");
        return p_[pos_++];
    }

    uint32_t any_text() {
        if (any_ == UINT32_MAX) any_ = b_.repeat(encode(negated(char_class{})), 0, -1);
        return any_;
    }

    // Alternatives up to ')' or the end (inside a group: anchors not allowed).
    piece alternation() {
        std::vector<seq> alts;
        bool nullable = false, end = false;
        do {
            piece p = sequence(false, end);
            nullable = nullable || p.nullable;
            alts.push_back(std::move(p.s));
        } while (eat('|'));
        return {r(b_.rule_of(alts)), nullable};
    }

    piece sequence(bool top, bool& end) {
        piece out;
        while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
            if (p_[pos_] == '$') {
                ++pos_;
                if (!top || (pos_ < p_.size() && p_[pos_] != '|')) fail("'$' is supported only at the end");
                end = true;
                break;
            }
            if (p_[pos_] == '^') fail("'^' is supported only at the start");
            const piece a = quantified(atom());
            out.s = seq_cat({out.s, a.s});
            out.nullable = out.nullable && a.nullable;
        }
        return out;
    }

    piece atom() {
        const size_t at = pos_;
        const unsigned char c = static_cast<unsigned char>(next());
        switch (c) {
            case '(': {
                if (eat('?') && !eat(':')) fail("lookaround and named groups are not supported");
                piece inner = alternation();
                if (!eat(')')) fail("an unclosed '('");
                return inner;
            }
            case '[':
                return {encode(class_body()), false};
            case '.': {
                char_class any = negated(char_class{});
                any.ascii.remove('\n').remove('\r');
                return {encode(any), false};
            }
            case '\\':
                return {encode(escape(false)), false};
            case '*':
            case '+':
            case '?':
                pos_ = at;
                fail("nothing to repeat");
            default:
                break;
        }
        if (c < 0x80) return {encode(range(c, c)), false};
        // A literal UTF-8 character: its bytes, as JSON writes them.
        const size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (n == 0 || at + n > p_.size()) fail("malformed UTF-8");
        pos_ = at + n;
        return {seq_lit(p_.substr(at, n)), false};
    }

    // After an atom: ? * + {m} {m,} {m,n}, then an optional lazy '?'.
    piece quantified(piece a) {
        int64_t min = 1, max = 1;
        const size_t at = pos_;
        if (eat('?')) {
            min = 0;
        } else if (eat('*')) {
            min = 0, max = -1;
        } else if (eat('+')) {
            max = -1;
        } else if (!count(min, max)) {
            return a;
        }
        eat('?');
        if (pos_ < p_.size() && (p_[pos_] == '*' || p_[pos_] == '+' || p_[pos_] == '?')) fail("nothing to repeat");
        if (min > k_max_repeat || max > k_max_repeat)
            fail("a count above " + std::to_string(k_max_repeat) + " is not supported");
        if (max >= 0 && max < min) {
            pos_ = at;
            fail("a count range out of order");
        }
        if (max == 0) return {};
        if (min == 0 && max == 1) return {r(b_.optional(a.s)), true};
        if (a.nullable) fail("a repetition of something that can match the empty string is not supported");
        return {r(b_.repeat(a.s, min, max)), min == 0};
    }

    // {m}, {m,} or {m,n}; false (nothing read) when the brace is not one: then it is a literal '{'.
    bool count(int64_t& min, int64_t& max) {
        const size_t at = pos_;
        auto number = [&](int64_t& v) {
            const size_t from = pos_;
            v = 0;
            while (pos_ < p_.size() && std::isdigit(static_cast<unsigned char>(p_[pos_])))
                v = std::min<int64_t>(v * 10 + (p_[pos_++] - '0'), k_max_repeat + 1);  // saturates past the limit
            return pos_ > from;
        };
        if (!eat('{') || !number(min)) return pos_ = at, false;
        max = min;
        if (eat(',')) max = number(max) ? max : -1;
        if (!eat('}')) return pos_ = at, false;
        return true;
    }

    char_class class_body() {
        const bool negate = eat('^');
        char_class cls;
        while (!eat(']')) {
            int lo = 0;
            if (!item(cls, lo)) continue;  // a class escape, added
            if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
                ++pos_;
                int hi = 0;
                char_class dummy;
                if (!item(dummy, hi)) fail("a class escape cannot end a range");
                if (hi < lo) fail("a range out of order");
                add(cls, range(lo, hi));
            } else {
                add(cls, range(lo, lo));
            }
        }
        return negate ? negated(cls) : cls;
    }

    // One class member: a character (its code in `c`, true) or a class escape added to `cls` (false).
    bool item(char_class& cls, int& c) {
        const unsigned char x = static_cast<unsigned char>(next());
        if (x >= 0x80) fail("classes of non-ASCII characters are not supported");
        if (x != '\\') return c = x, true;
        bool is_class = false;
        const char_class e = escape(true, &is_class);
        if (is_class) {
            add(cls, e);
            return false;
        }
        for (int b = 0; b < 128; ++b)
            if (e.ascii.has(static_cast<uint8_t>(b))) c = b;
        return true;
    }

    // After a backslash: the class of the escape (one character for a character escape; is_class
    // says which).
    char_class escape(bool in_class, bool* is_class = nullptr) {
        const char c = next();
        if (is_class) *is_class = std::string_view("dDwWsS").find(c) != std::string_view::npos;
        const char_class digit = range('0', '9');
        char_class word = range('a', 'z');
        add(word, range('A', 'Z'));
        add(word, digit);
        add(word, range('_', '_'));
        char_class space = range('\t', '\r');
        add(space, range(' ', ' '));
        switch (c) {
            case 'd':
                return digit;
            case 'D':
                return negated(digit);
            case 'w':
                return word;
            case 'W':
                return negated(word);
            case 's':
                return space;
            case 'S':
                return negated(space);
            case 'n':
                return range('\n', '\n');
            case 't':
                return range('\t', '\t');
            case 'r':
                return range('\r', '\r');
            case 'f':
                return range('\f', '\f');
            case 'v':
                return range('\v', '\v');
            case '0':
                return range(0, 0);
            case 'x':
                return range_of(hex(2));
            case 'u':
                return range_of(hex(4));
            case 'b':
                if (in_class) return range('\b', '\b');
                fail("\\b (a word boundary) is not supported");
            default:
                break;
        }
        if (c >= '1' && c <= '9') fail("backreferences are not supported");
        if (std::isalnum(static_cast<unsigned char>(c))) fail(std::string("the escape \\") + c + " is not supported");
        return range(static_cast<unsigned char>(c), static_cast<unsigned char>(c));
    }

    int hex(int n) {
        int v = 0;
        for (int i = 0; i < n; ++i) {
            const char h = next();
            if (!std::isxdigit(static_cast<unsigned char>(h))) fail("a malformed hex escape");
            v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
        }
        return v;
    }
    char_class range_of(int code) {
        if (code >= 0x80) fail("escapes of non-ASCII characters are not supported");
        return range(code, code);
    }

    // The JSON text of one character of the class: printable ASCII as is (but '"' and '\'),
    // escapes for those and for control characters, any non-ASCII UTF-8 character when it belongs.
    seq encode(const char_class& c) {
        if (syntax_.raw_strings) return encode_raw(c);
        std::vector<seq> alts;
        byte_set raw;
        for (int b = 0x20; b < 0x80; ++b)
            if (c.ascii.has(static_cast<uint8_t>(b)) && b != '"' && b != '\\') raw.add(static_cast<uint8_t>(b));
        if (!(raw == byte_set{})) alts.push_back({sym_bytes(raw)});
        if (c.ascii.has('"')) alts.push_back(seq_lit("\\\""));
        if (c.ascii.has('\\')) alts.push_back(seq_lit("\\\\"));
        static const char* k_hex = "0123456789abcdef";
        for (int b = 0; b < 0x20; ++b) {
            if (!c.ascii.has(static_cast<uint8_t>(b))) continue;
            const std::string_view named = b == '\n'   ? "\\n"
                                           : b == '\t' ? "\\t"
                                           : b == '\r' ? "\\r"
                                           : b == '\b' ? "\\b"
                                           : b == '\f' ? "\\f"
                                                       : "";
            if (!named.empty()) {
                alts.push_back(seq_lit(named));
                continue;
            }
            const char lo = k_hex[b & 15];
            alts.push_back(seq_cat(
                {seq_lit(std::string("\\u00") + k_hex[b >> 4]),
                 {sym_bytes(byte_set{}.add(static_cast<uint8_t>(lo)).add(static_cast<uint8_t>(std::toupper(lo))))}}));
        }
        if (c.non_ascii) alts.push_back(r(multibyte_));
        if (alts.empty()) fail("a class that matches nothing");
        if (alts.size() == 1) return alts[0];
        return r(b_.rule_of(alts));
    }

    // A raw string's character: itself (tab, newline, carriage return and printable ASCII but the
    // kept-out character), or any non-ASCII UTF-8 character when it belongs.
    seq encode_raw(const char_class& c) {
        byte_set raw;
        for (int b = 0; b < 0x80; ++b) {
            const bool writable = b >= 0x20 || b == '\t' || b == '\n' || b == '\r';
            if (writable && b != kept_out_ && c.ascii.has(static_cast<uint8_t>(b))) raw.add(static_cast<uint8_t>(b));
        }
        std::vector<seq> alts;
        if (!(raw == byte_set{})) alts.push_back({sym_bytes(raw)});
        if (c.non_ascii) alts.push_back(r(multibyte_));
        if (alts.empty()) {
            if (c.ascii.has(static_cast<uint8_t>(kept_out_)))
                fail(std::string("'") + kept_out_ +
                     "' cannot be written in this model's argument strings (they are "
                     "written without it, so that they never hold their quote " +
                     syntax_.quote + ")");
            fail(
                "a class that matches nothing in this model's argument strings (control characters other "
                "than tab, newline and carriage return cannot be written)");
        }
        if (alts.size() == 1) return alts[0];
        return r(b_.rule_of(alts));
    }

    grammar_builder& b_;
    std::string_view p_;
    size_t pos_ = 0;
    uint32_t multibyte_;
    const value_syntax& syntax_;
    char kept_out_ = 0;  // raw strings: the quote's character never written
    uint32_t any_ = UINT32_MAX;
};

}  // namespace

uint32_t pattern_string(grammar_builder& b, std::string_view pattern, uint32_t multibyte, const value_syntax& syntax) {
    return pattern_compiler(b, pattern, multibyte, syntax).string_rule();
}

}  // namespace tandem::gram
