// json_grammar: one rule per schema node, shared rules for whitespace, strings and numbers.
#include "engine/grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <set>

#include "common/error.h"
#include "engine/grammar/number_range.h"
#include "engine/grammar/string_pattern.h"

namespace tandem::gram {
namespace {

using json = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& at, const std::string& what) {
    throw error("json schema" + std::string(at.empty() ? "" : " at " + at) + ": " + what);
}

// Keywords that only describe: accepted and ignored.
const std::set<std::string> k_annotations = {"title", "description", "default",    "examples", "$schema",
                                             "$id",   "$comment",    "deprecated", "readOnly", "writeOnly",
                                             "$defs", "definitions", "strict",     "name",     "nullable"};
const std::set<std::string> k_handled = {"type",
                                         "properties",
                                         "required",
                                         "additionalProperties",
                                         "items",
                                         "prefixItems",
                                         "minItems",
                                         "maxItems",
                                         "enum",
                                         "const",
                                         "anyOf",
                                         "oneOf",
                                         "allOf",
                                         "$ref",
                                         "minLength",
                                         "maxLength",
                                         "format",
                                         "pattern",
                                         "minimum",
                                         "maximum",
                                         "exclusiveMinimum",
                                         "exclusiveMaximum"};

byte_set digits() {
    return byte_set{}.add_range('0', '9');
}
seq one(const byte_set& s) {
    return {sym_bytes(s)};
}
seq r(uint32_t rule) {
    return {sym_rule(rule)};
}

int64_t count_of(const json& s, const char* key, int64_t fallback, const std::string& at) {
    if (!s.contains(key)) return fallback;
    const json& v = s.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0)
        refuse(at, std::string(key) + " must be a non-negative integer");
    const int64_t n = v.get<int64_t>();
    if (n > k_max_repeat) refuse(at, std::string(key) + " above " + std::to_string(k_max_repeat) + " is not supported");
    return n;
}

// A bound as an integer, clamped to +-(k_max_magnitude + 1); a fraction rounds up or down (`up`) and
// sets `fractional`.
int64_t bound_value(const json& v, bool up, bool& fractional) {
    constexpr int64_t k_lim = k_max_magnitude + 1;
    if (v.is_number_unsigned()) return static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), k_lim));
    if (v.is_number_integer()) return std::clamp<int64_t>(v.get<int64_t>(), -k_lim, k_lim);
    const double d = v.get<double>();
    const double rounded = up ? std::ceil(d) : std::floor(d);
    fractional = fractional || rounded != d;
    return static_cast<int64_t>(std::clamp(rounded, -static_cast<double>(k_lim), static_cast<double>(k_lim)));
}

// minimum / maximum / exclusiveMinimum / exclusiveMaximum (numbers, or draft 4's booleans that make
// minimum / maximum exclusive) as bounds; nullopt when none is given. Integers get inclusive bounds
// (x > 2.5 is x >= 3); numbers take integer bounds only.
std::optional<number_bounds> bounds_of(const json& s, bool integer, const std::string& at) {
    const char* keys[] = {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"};
    bool any = false;
    for (const char* k : keys) {
        if (!s.contains(k)) continue;
        const json& v = s.at(k);
        const bool flag = k[0] == 'e' && v.is_boolean();
        if (!v.is_number() && !flag) refuse(at, std::string(k) + " must be a number");
        any = any || !flag;
    }
    if (!any) return std::nullopt;
    number_bounds nb;
    bool fractional = false;
    for (int upper = 0; upper < 2; ++upper) {
        const json* incl = s.contains(keys[upper * 2]) ? &s.at(keys[upper * 2]) : nullptr;
        const json* excl = s.contains(keys[upper * 2 + 1]) ? &s.at(keys[upper * 2 + 1]) : nullptr;
        bool exclusive = false;
        if (excl && excl->is_boolean()) exclusive = excl->get<bool>(), excl = nullptr;
        std::optional<int64_t>& bound = upper ? nb.hi : nb.lo;
        bool& bound_exclusive = upper ? nb.hi_exclusive : nb.lo_exclusive;
        // The tighter of the two: an exclusive bound b is b + 1 (integers) or b, exclusive (numbers).
        auto tighten = [&](int64_t v, bool excl_v) {
            const bool tighter =
                !bound || (upper ? v < *bound || (v == *bound && excl_v) : v > *bound || (v == *bound && excl_v));
            if (tighter) bound = v, bound_exclusive = excl_v;
        };
        if (incl) tighten(bound_value(*incl, !upper, fractional), exclusive);
        if (excl) tighten(bound_value(*excl, upper != 0, fractional), true);
        if (bound && integer && bound_exclusive) *bound += upper ? -1 : 1, bound_exclusive = false;
    }
    if (fractional && !integer)
        refuse(at, "minimum / maximum of a number must be whole numbers (a limit of this server)");
    const bool lo_out = nb.lo && *nb.lo > k_max_magnitude, hi_out = nb.hi && *nb.hi < -k_max_magnitude;
    if (lo_out || hi_out) refuse(at, "minimum / maximum beyond the largest number written (16 digits)");
    if (nb.lo && *nb.lo < -k_max_magnitude) nb.lo.reset();
    if (nb.hi && *nb.hi > k_max_magnitude) nb.hi.reset();
    if (nb.lo && nb.hi && (*nb.lo > *nb.hi || (*nb.lo == *nb.hi && (nb.lo_exclusive || nb.hi_exclusive))))
        refuse(at, "no value lies within minimum / maximum");
    return nb;
}

// A key that may go unquoted in bare-key syntax (Gemma 4's reader takes these).
bool is_name(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
}

}  // namespace

uint32_t json_grammar::ws() {
    // As llama.cpp's schema grammars: nothing, one space, or one newline and an indentation.
    if (ws_ == UINT32_MAX && !syntax_.spaces) ws_ = b_.rule_of({{}});
    if (ws_ == UINT32_MAX)
        ws_ = b_.rule_of({{},
                          seq_lit(" "),
                          seq_cat({seq_lit("\n"), r(b_.repeat(one(byte_set{}.add(' ').add('\t')), 0, k_max_indent))})});
    return ws_;
}

// A well-formed UTF-8 sequence of two to four bytes (no overlongs, no surrogates).
uint32_t json_grammar::utf8_multibyte() {
    if (multibyte_ != UINT32_MAX) return multibyte_;
    const byte_set cont = byte_set{}.add_range(0x80, 0xBF);
    multibyte_ = b_.rule_of({
        seq_cat({one(byte_set{}.add_range(0xC2, 0xDF)), one(cont)}),
        seq_cat({one(byte_set{}.add(0xE0)), one(byte_set{}.add_range(0xA0, 0xBF)), one(cont)}),
        seq_cat({one(byte_set{}.add_range(0xE1, 0xEC).add_range(0xEE, 0xEF)), one(cont), one(cont)}),
        seq_cat({one(byte_set{}.add(0xED)), one(byte_set{}.add_range(0x80, 0x9F)), one(cont)}),
        seq_cat({one(byte_set{}.add(0xF0)), one(byte_set{}.add_range(0x90, 0xBF)), one(cont), one(cont)}),
        seq_cat({one(byte_set{}.add_range(0xF1, 0xF3)), one(cont), one(cont), one(cont)}),
        seq_cat({one(byte_set{}.add(0xF4)), one(byte_set{}.add_range(0x80, 0x8F)), one(cont), one(cont)}),
    });
    return multibyte_;
}

// One character of a JSON string's content: unescaped printable ASCII, an escape, or a well-formed
// UTF-8 sequence, so the text is always valid UTF-8.
uint32_t json_grammar::string_char() {
    if (char_ != UINT32_MAX) return char_;
    const byte_set hex = byte_set{}.add_range('0', '9').add_range('a', 'f').add_range('A', 'F');
    char_ = b_.rule_of({
        one(byte_set{}.add_range(0x20, 0x7F).remove('"').remove('\\')),
        seq_cat(
            {seq_lit("\\"), one(byte_set{}.add('"').add('\\').add('/').add('b').add('f').add('n').add('r').add('t'))}),
        seq_cat({seq_lit("\\u"), one(hex), one(hex), one(hex), one(hex)}),
        r(utf8_multibyte()),
    });
    return char_;
}

uint32_t json_grammar::string_any() {
    if (str_ != UINT32_MAX) return str_;
    if (syntax_.raw_strings)
        str_ = raw_string(0, -1);
    else
        str_ = b_.rule_of({seq_cat({seq_lit("\""), r(b_.repeat(r(string_char()), 0, -1)), seq_lit("\"")})});
    return str_;
}

// A raw string (value_syntax::raw_strings): quote, min..max characters (max < 0: no bound) in which
// the quote never occurs, quote. A KMP automaton over the quote times a character count: rule (k, c)
// has read c characters (c saturates at min when unbounded) whose end matches the quote's first k
// bytes. Characters: tab, newline, carriage return, printable ASCII and well-formed UTF-8.
uint32_t json_grammar::raw_string(int64_t min, int64_t max) {
    const std::string& q = syntax_.quote;
    const size_t n = q.size();
    if (n == 0 || std::any_of(q.begin(), q.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }))
        throw error("json schema: a raw string's quote must be non-empty ASCII");
    std::vector<size_t> border(n, 0);  // KMP: the longest proper border of q[0, i]
    for (size_t i = 1, k = 0; i < n; ++i) {
        while (k > 0 && q[i] != q[k]) k = border[k - 1];
        if (q[i] == q[k]) ++k;
        border[i] = k;
    }
    auto next = [&](size_t k, char c) {
        while (k > 0 && q[k] != c) k = border[k - 1];
        return q[k] == c ? k + 1 : 0;
    };
    // Closing from state k must not complete an earlier occurrence of the quote, which the reader
    // would take as the end (a quote with a border: "aa" after content ending in "a").
    auto may_close = [&](size_t k) {
        for (size_t j = 0; j + 1 < n; ++j)
            if ((k = next(k, q[j])) == n) return false;
        return true;
    };
    const bool bounded = max >= 0;
    const int64_t n_counts = (bounded ? max : min) + 1;
    std::vector<uint32_t> state(n * static_cast<size_t>(n_counts));
    auto at = [&](size_t k, int64_t c) { return state[static_cast<size_t>(c) * n + k]; };
    for (uint32_t& s : state) s = b_.declare();
    const byte_set ascii = byte_set{}.add('\t').add('\n').add('\r').add_range(0x20, 0x7F);
    for (int64_t c = 0; c < n_counts; ++c) {
        const bool may_add = !bounded || c < max;
        const int64_t c_next = bounded ? c + 1 : std::min(c + 1, min);
        for (size_t k = 0; k < n; ++k) {
            const uint32_t rule = at(k, c);
            if (c >= min && may_close(k)) b_.add_alt(rule, seq_lit(q));
            if (!may_add) {
                if (c < min || !may_close(k)) b_.add_alt(rule, {sym_bytes(byte_set{})});  // a dead end
                continue;
            }
            std::vector<byte_set> to(n);  // ASCII bytes by the state they lead to (n: the quote, not allowed)
            for (int b = 0; b < 0x80; ++b) {
                if (!ascii.has(static_cast<uint8_t>(b))) continue;
                const size_t t = next(k, static_cast<char>(b));
                if (t < n) to[t].add(static_cast<uint8_t>(b));
            }
            for (size_t t = 0; t < n; ++t)
                if (!(to[t] == byte_set{})) b_.add_alt(rule, {sym_bytes(to[t]), sym_rule(at(t, c_next))});
            b_.add_alt(rule, seq_cat({r(utf8_multibyte()), r(at(0, c_next))}));
        }
    }
    return b_.rule_of({seq_cat({seq_lit(q), r(at(0, 0))})});
}

// Any object key: a JSON string, or in bare-key syntax a name or a raw string.
uint32_t json_grammar::key_any() {
    if (key_ != UINT32_MAX) return key_;
    if (!syntax_.bare_keys) return key_ = string_any();
    const byte_set name_char =
        byte_set{}.add_range('a', 'z').add_range('A', 'Z').add_range('0', '9').add('_').add('-').add('.');
    key_ = b_.rule_of({r(b_.repeat(one(name_char), 1, -1)), r(string_any())});
    return key_;
}

// Integers of at most 16 digits, fractions of at most 16, exponents of at most 3: a model cannot
// write digits forever.
uint32_t json_grammar::integer() {
    if (int_ != UINT32_MAX) return int_;
    const uint32_t mag =
        b_.rule_of({seq_lit("0"), seq_cat({one(byte_set{}.add_range('1', '9')), r(b_.repeat(one(digits()), 0, 15))})});
    int_ = b_.rule_of({seq_cat({r(b_.optional(seq_lit("-"))), r(mag)})});
    return int_;
}

uint32_t json_grammar::number() {
    if (num_ != UINT32_MAX) return num_;
    const uint32_t frac = b_.optional(seq_cat({seq_lit("."), r(b_.repeat(one(digits()), 1, 16))}));
    const uint32_t exp =
        b_.optional(seq_cat({one(byte_set{}.add('e').add('E')), r(b_.optional(one(byte_set{}.add('+').add('-')))),
                             r(b_.repeat(one(digits()), 1, 3))}));
    num_ = b_.rule_of({seq_cat({r(integer()), r(frac), r(exp)})});
    return num_;
}

uint32_t json_grammar::any_value() {
    if (value_ != UINT32_MAX) return value_;
    value_ = b_.declare();
    const uint32_t w = ws();
    const uint32_t member = b_.rule_of({seq_cat({r(key_any()), r(w), seq_lit(":"), r(w), r(value_), r(w)})});
    object_ = b_.rule_of(
        {seq_cat({seq_lit("{"), r(w), r(b_.repeat(r(member), 0, -1, seq_cat({seq_lit(","), r(w)}))), seq_lit("}")})});
    const uint32_t item = b_.rule_of({seq_cat({r(value_), r(w)})});
    const uint32_t arr = b_.rule_of(
        {seq_cat({seq_lit("["), r(w), r(b_.repeat(r(item), 0, -1, seq_cat({seq_lit(","), r(w)}))), seq_lit("]")})});
    for (const seq& s :
         {r(object_), r(arr), r(string_any()), r(number()), seq_lit("true"), seq_lit("false"), seq_lit("null")})
        b_.add_alt(value_, s);
    return value_;
}

uint32_t json_grammar::any_object() {
    any_value();
    return object_;
}

// A value written in the syntax: JSON's own text, or (raw strings) quoted text and keys written
// by key_text. A string holding the quote cannot be written raw and is refused.
std::string json_grammar::literal_text(const json& v, const std::string& at) const {
    if (!syntax_.raw_strings && !syntax_.bare_keys) return v.dump();
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (!syntax_.raw_strings) return v.dump();
        if (s.find(syntax_.quote) != std::string::npos)
            refuse(at, "the value '" + s + "' holds this format's string quote '" + syntax_.quote + "'");
        return syntax_.quote + s + syntax_.quote;
    }
    std::string out;
    if (v.is_object()) {
        for (const auto& [k, x] : v.items())
            out += (out.empty() ? "" : ",") + key_text(k, at) + ":" + literal_text(x, at);
        return "{" + out + "}";
    }
    if (v.is_array()) {
        for (const json& x : v) out += (out.empty() ? "" : ",") + literal_text(x, at);
        return "[" + out + "]";
    }
    return v.dump();
}

std::string json_grammar::key_text(const std::string& key, const std::string& at) const {
    if (syntax_.bare_keys && is_name(key)) return key;
    return literal_text(json(key), at);
}

uint32_t json_grammar::schema(const json& s) {
    root_ = &s;
    refs_.clear();  // a $ref of another root names other rules
    return compile(s, "");
}

uint32_t json_grammar::ref(const std::string& target, const std::string& at) {
    for (const auto& [name, rule] : refs_) {
        if (name == target) return rule;
    }
    if (target.empty() || target[0] != '#') refuse(at, "$ref '" + target + "' is not a reference into this schema");
    const json* t = nullptr;
    try {
        t = &root_->at(json::json_pointer(target.substr(1)));
    } catch (const std::exception&) {
        refuse(at, "$ref '" + target + "' points nowhere");
    }
    const uint32_t rule = b_.declare();
    refs_.emplace_back(target, rule);
    b_.add_alt(rule, r(compile(*t, target.substr(1))));
    return rule;
}

uint32_t json_grammar::compile(const json& s, const std::string& at) {
    if (b_.n_rules() > k_max_rules) refuse(at, "the schema is too large");
    if (s.is_boolean()) {
        if (!s.get<bool>()) refuse(at, "the schema false matches nothing");
        return any_value();
    }
    if (!s.is_object()) refuse(at, "a schema must be an object");
    for (const auto& [key, v] : s.items()) {
        if (!k_annotations.contains(key) && !k_handled.contains(key)) refuse(at, "unsupported keyword '" + key + "'");
    }
    std::vector<seq> alts;
    if (s.value("nullable", false)) alts.push_back(seq_lit("null"));
    if (s.contains("$ref")) {
        if (!s.at("$ref").is_string()) refuse(at, "$ref must be a string");
        alts.push_back(r(ref(s.at("$ref").get<std::string>(), at)));
    } else if (s.contains("const")) {
        alts.push_back(seq_lit(literal_text(s.at("const"), at)));
    } else if (s.contains("enum")) {
        const json& e = s.at("enum");
        if (!e.is_array() || e.empty()) refuse(at, "enum must be a non-empty array");
        for (const json& v : e) alts.push_back(seq_lit(literal_text(v, at)));
    } else if (s.contains("anyOf") || s.contains("oneOf") || s.contains("allOf")) {
        const char* key = s.contains("anyOf") ? "anyOf" : s.contains("oneOf") ? "oneOf" : "allOf";
        const json& list = s.at(key);
        if (!list.is_array() || list.empty()) refuse(at, std::string(key) + " must be a non-empty array");
        if (std::string(key) == "allOf" && list.size() != 1)
            refuse(at, "allOf of more than one schema is not supported");
        for (size_t i = 0; i < list.size(); ++i)
            alts.push_back(r(compile(list[i], at + "/" + key + "/" + std::to_string(i))));
    } else if (s.contains("type")) {
        const json& t = s.at("type");
        if (t.is_string()) {
            alts.push_back(r(compile_typed(s, t.get<std::string>(), at)));
        } else if (t.is_array() && !t.empty()) {
            for (const json& one_t : t) {
                if (!one_t.is_string()) refuse(at, "type must be a string or an array of strings");
                alts.push_back(r(compile_typed(s, one_t.get<std::string>(), at)));
            }
        } else {
            refuse(at, "type must be a string or an array of strings");
        }
    } else if (s.contains("properties") || s.contains("additionalProperties")) {
        alts.push_back(r(object(s, at)));
    } else if (s.contains("items") || s.contains("prefixItems")) {
        alts.push_back(r(array(s, at)));
    } else {
        alts.push_back(r(any_value()));
    }
    return b_.rule_of(alts);
}

uint32_t json_grammar::compile_typed(const json& s, const std::string& type, const std::string& at) {
    if (type == "object") return object(s, at);
    if (type == "array") return array(s, at);
    if (type == "string") return string(s, at);
    if (type == "number" || type == "integer") {
        const bool whole = type == "integer";
        const std::optional<number_bounds> nb = bounds_of(s, whole, at);
        if (!nb) return whole ? integer() : number();
        if (!whole) return number_range(b_, *nb);
        return integer_range(b_, nb->lo.value_or(-k_max_magnitude), nb->hi.value_or(k_max_magnitude));
    }
    if (type == "boolean") return b_.rule_of({seq_lit("true"), seq_lit("false")});
    if (type == "null") return b_.rule_of({seq_lit("null")});
    refuse(at, "unknown type '" + type + "'");
}

uint32_t json_grammar::string(const json& s, const std::string& at) {
    if (s.contains("pattern")) {
        if (!s.at("pattern").is_string()) refuse(at, "pattern must be a string");
        if (s.contains("format") || s.contains("minLength") || s.contains("maxLength"))
            refuse(at, "pattern together with format, minLength or maxLength is not supported");
        try {
            return pattern_string(b_, s.at("pattern").get<std::string>(), utf8_multibyte(), syntax_);
        } catch (const error& e) {
            refuse(at, e.what());
        }
    }
    if (s.contains("format")) {
        if (!s.at("format").is_string()) refuse(at, "format must be a string");
        if (s.contains("minLength") || s.contains("maxLength"))
            refuse(at, "minLength/maxLength together with format is not supported");
        return format(s.at("format").get<std::string>(), at);
    }
    const int64_t min = count_of(s, "minLength", 0, at);
    const int64_t max = count_of(s, "maxLength", -1, at);
    if (max >= 0 && max < min) refuse(at, "maxLength is below minLength");
    if (min == 0 && max < 0) return string_any();
    if (syntax_.raw_strings) return raw_string(min, max);
    return b_.rule_of({seq_cat({seq_lit("\""), r(b_.repeat(r(string_char()), min, max)), seq_lit("\"")})});
}

uint32_t json_grammar::format(const std::string& name, const std::string& at) {
    const byte_set d = digits();
    auto dd = [&](char lo, char hi, const byte_set& second) {
        return seq_cat({one(byte_set{}.add_range(static_cast<uint8_t>(lo), static_cast<uint8_t>(hi))), one(second)});
    };
    const uint32_t month =
        b_.rule_of({dd('0', '0', byte_set{}.add_range('1', '9')), dd('1', '1', byte_set{}.add_range('0', '2'))});
    const uint32_t day = b_.rule_of(
        {dd('0', '0', byte_set{}.add_range('1', '9')), dd('1', '2', d), dd('3', '3', byte_set{}.add_range('0', '1'))});
    const seq date = seq_cat({one(d), one(d), one(d), one(d), seq_lit("-"), r(month), seq_lit("-"), r(day)});
    const uint32_t hour = b_.rule_of({dd('0', '1', d), dd('2', '2', byte_set{}.add_range('0', '3'))});
    const seq minute = dd('0', '5', d);
    const uint32_t frac = b_.optional(seq_cat({seq_lit("."), r(b_.repeat(one(d), 1, 9))}));
    const uint32_t zone =
        b_.rule_of({seq_lit("Z"), seq_cat({one(byte_set{}.add('+').add('-')), r(hour), seq_lit(":"), minute})});
    const seq time = seq_cat({r(hour), seq_lit(":"), minute, seq_lit(":"), minute, r(frac), r(zone)});
    seq body;
    if (name == "date") {
        body = date;
    } else if (name == "time") {
        body = time;
    } else if (name == "date-time") {
        body = seq_cat({date, seq_lit("T"), time});
    } else if (name == "uuid") {
        const seq h = one(byte_set{}.add_range('0', '9').add_range('a', 'f').add_range('A', 'F'));
        auto hex = [&](int n) { return r(b_.repeat(h, n, n)); };
        body =
            seq_cat({hex(8), seq_lit("-"), hex(4), seq_lit("-"), hex(4), seq_lit("-"), hex(4), seq_lit("-"), hex(12)});
    } else if (name == "email") {
        const byte_set alnum = byte_set{}.add_range('a', 'z').add_range('A', 'Z').add_range('0', '9');
        const uint32_t local = b_.repeat(one(byte_set(alnum).add('.').add('_').add('%').add('+').add('-')), 1, 64);
        const uint32_t label = b_.repeat(one(byte_set(alnum).add('-')), 1, 63);
        body = seq_cat({r(local), seq_lit("@"), r(label), seq_lit("."), r(b_.repeat(r(label), 1, 4, seq_lit(".")))});
    } else {
        refuse(at, "format '" + name + "' is not supported (date, time, date-time, uuid, email are)");
    }
    const std::string& q = syntax_.raw_strings ? syntax_.quote : std::string("\"");
    return b_.rule_of({seq_cat({seq_lit(q), body, seq_lit(q)})});
}

// Properties in the schema's order, each required one present and each optional one present or
// not; then additional properties if allowed. first_i / after_i: from property i on, before any
// member was written (no comma due) or after one (a comma before the next).
uint32_t json_grammar::object(const json& s, const std::string& at) {
    const json props = s.value("properties", json::object());
    if (!props.is_object()) refuse(at, "properties must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
        if (!s.at("required").is_array()) refuse(at, "required must be an array of names");
        for (const json& n : s.at("required")) {
            if (!n.is_string()) refuse(at, "required must be an array of names");
            if (!props.contains(n.get<std::string>()))
                refuse(at, "required property '" + n.get<std::string>() + "' is not in properties");
            required.insert(n.get<std::string>());
        }
    }
    const uint32_t w = ws();
    const seq comma = seq_cat({seq_lit(","), r(w)});
    // Additional properties: a schema, true, or (absent) allowed only for a non-strict schema without properties.
    std::optional<uint32_t> extra_value;
    if (s.contains("additionalProperties")) {
        const json& ap = s.at("additionalProperties");
        if (!ap.is_boolean() || ap.get<bool>()) extra_value = compile(ap, at + "/additionalProperties");
    } else if (!strict_ && props.empty()) {
        extra_value = any_value();
    }
    uint32_t first = b_.rule_of({{}}), after = b_.rule_of({{}});
    if (extra_value) {
        const uint32_t member = b_.rule_of({seq_cat({r(key_any()), r(w), seq_lit(":"), r(w), r(*extra_value), r(w)})});
        after = b_.repeat(seq_cat({comma, r(member)}), 0, -1);
        first = b_.rule_of({seq_cat({r(member), r(after)}), {}});
    }
    std::vector<std::pair<std::string, const json*>> list;
    for (const auto& [name, sub] : props.items()) list.emplace_back(name, &sub);
    for (auto it = list.rbegin(); it != list.rend(); ++it) {
        const uint32_t value = compile(*it->second, at + "/properties/" + it->first);
        const seq member = seq_cat({seq_lit(key_text(it->first, at)), r(w), seq_lit(":"), r(w), r(value), r(w)});
        const bool req = required.contains(it->first);
        const uint32_t next_after = b_.rule_of({seq_cat({comma, member, r(after)})});
        const uint32_t next_first = b_.rule_of({seq_cat({member, r(after)})});
        std::vector<seq> a_alts = {r(next_after)}, f_alts = {r(next_first)};
        if (!req) {
            a_alts.push_back(r(after));
            f_alts.push_back(r(first));
        }
        after = b_.rule_of(a_alts);
        first = b_.rule_of(f_alts);
    }
    return b_.rule_of({seq_cat({seq_lit("{"), r(w), r(first), seq_lit("}")})});
}

uint32_t json_grammar::array(const json& s, const std::string& at) {
    const uint32_t w = ws();
    const seq comma = seq_cat({seq_lit(","), r(w)});
    const int64_t min = count_of(s, "minItems", 0, at);
    const int64_t max = count_of(s, "maxItems", -1, at);
    if (max >= 0 && max < min) refuse(at, "maxItems is below minItems");
    std::vector<uint32_t> prefix;
    if (s.contains("prefixItems")) {
        const json& p = s.at("prefixItems");
        if (!p.is_array()) refuse(at, "prefixItems must be an array");
        for (size_t i = 0; i < p.size(); ++i) prefix.push_back(compile(p[i], at + "/prefixItems/" + std::to_string(i)));
    }
    std::optional<uint32_t> item;  // the items after the prefix; none: no more
    if (s.contains("items")) {
        const json& it = s.at("items");
        if (!(it.is_boolean() && !it.get<bool>())) item = compile(it, at + "/items");
    } else if (prefix.empty() || !strict_) {
        item = any_value();
    }
    const int64_t n_prefix = static_cast<int64_t>(prefix.size());
    if (max >= 0 && max < n_prefix) refuse(at, "maxItems is below the number of prefixItems");
    // Built from the end: the items after the prefix, then the prefix items, each optional once min is met.
    uint32_t rest = b_.rule_of({{}});  // what follows the last prefix item
    if (item) {
        const uint32_t elem = b_.rule_of({seq_cat({r(*item), r(w)})});
        const int64_t rmin = std::max<int64_t>(min - n_prefix, 0);
        const int64_t rmax = max < 0 ? -1 : max - n_prefix;
        if (rmax != 0) rest = b_.repeat(seq_cat({comma, r(elem)}), rmin, rmax);
        if (n_prefix == 0) {
            const uint32_t all = rmax == 0 ? b_.rule_of({{}}) : b_.repeat(r(elem), rmin, rmax, comma);
            return b_.rule_of({seq_cat({seq_lit("["), r(w), r(all), seq_lit("]")})});
        }
    } else if (min > n_prefix) {
        refuse(at, "minItems is above the number of prefixItems and no more items are allowed");
    }
    for (int64_t i = n_prefix - 1; i >= 0; --i) {
        const seq lead = i == 0 ? seq{} : comma;
        const seq this_item = seq_cat({lead, r(prefix[static_cast<size_t>(i)]), r(w), r(rest)});
        rest = i + 1 > min ? b_.rule_of({this_item, {}}) : b_.rule_of({this_item});
    }
    return b_.rule_of({seq_cat({seq_lit("["), r(w), r(rest), seq_lit("]")})});
}

std::string reasoning_lead::key() const {
    if (empty() && answer_start.empty()) return "";
    return (open ? "open\n" : "optional\n") + start + "\n" + end + "\n" + after + "\n" + answer_start;
}

uint32_t lead_then(grammar_builder& b, const reasoning_lead& lead, const seq& body) {
    const seq answer = seq_cat({seq_lit(lead.answer_start), body});
    if (lead.empty()) return answer.size() == 1 && answer[0].is_rule ? answer[0].rule : b.rule_of({answer});
    // the reasoning's text, its end, what follows it, the answer
    const uint32_t thought = b.text_until(lead.end, seq_cat({seq_lit(lead.after), answer}));
    if (lead.open) return thought;
    if (lead.start.empty()) throw error("grammar: a reasoning block without its start marker");
    return b.rule_of({seq_cat({seq_lit(lead.start), r(thought)}), answer});
}

grammar grammar_from_json_schema(const json& schema, bool strict, const reasoning_lead& lead) {
    grammar_builder b;
    json_grammar jg(b, strict);
    const uint32_t value = jg.schema(schema);
    return b.finish(lead_then(b, lead, r(value)));
}

grammar grammar_json_object(const reasoning_lead& lead) {
    grammar_builder b;
    json_grammar jg(b, false);
    const uint32_t value = jg.any_object();
    return b.finish(lead_then(b, lead, r(value)));
}

namespace {
// prefix items suffix, after the spec's reasoning lead.
uint32_t sequence_root(grammar_builder& b, const sequence_spec& spec, uint32_t items) {
    return lead_then(b, spec.lead, seq_cat({seq_lit(spec.prefix), r(items), seq_lit(spec.suffix)}));
}
}  // namespace

grammar grammar_from_sequence(const json& schema, const sequence_spec& spec, bool strict) {
    grammar_builder b;
    json_grammar jg(b, strict);
    const uint32_t value = jg.schema(schema);
    const seq item = seq_cat({seq_lit(spec.item_prefix), r(value), seq_lit(spec.item_suffix)});
    if (item.size() == 0) throw error("grammar: an empty item");
    const uint32_t items = b.repeat(item, spec.min_items, spec.max_items, seq_lit(spec.separator));
    return b.finish(sequence_root(b, spec, items));
}

grammar grammar_from_tool_calls(const json& tools, const sequence_spec& spec, bool strict, const call_form& form) {
    if (!tools.is_array() || tools.empty()) throw error("tool calls: no tools");
    grammar_builder b;
    json_grammar jg(b, strict);                 // the call object around the arguments
    json_grammar args_g(b, strict, form.args);  // the arguments
    const uint32_t w = jg.ws();
    const bool inline_name = form.name_key.empty();
    std::vector<seq> calls;
    for (const json& t : tools) {
        const json& f = t.at("function");
        const std::string name = f.at("name").get<std::string>();
        const json params = f.contains("parameters") ? f.at("parameters") : json{{"type", "object"}};
        uint32_t args;
        try {
            args = args_g.schema(params);
        } catch (const error& e) {
            throw error("tool '" + name + "': " + e.what());
        }
        if (inline_name) {
            calls.push_back(seq_cat({seq_lit(name + form.name_suffix), r(args)}));
            continue;
        }
        calls.push_back(
            seq_cat({seq_lit("{"), r(w), seq_lit(json(form.name_key).dump()), r(w), seq_lit(":"), r(w),
                     seq_lit(json(name).dump()), r(w), seq_lit(","), r(w), seq_lit(json(form.args_key).dump()), r(w),
                     seq_lit(":"), r(w), r(args), r(w), seq_lit("}")}));
    }
    const uint32_t call = b.rule_of(calls);
    const seq item = seq_cat({seq_lit(spec.item_prefix), r(call), seq_lit(spec.item_suffix)});
    const uint32_t items = b.repeat(item, spec.min_items, spec.max_items, seq_lit(spec.separator));
    return b.finish(sequence_root(b, spec, items));
}

json tool_calls_schema(const json& tools) {
    json any = json::array();
    for (const json& t : tools) {
        const json& f = t.at("function");
        json params = f.value("parameters", json{{"type", "object"}});
        any.push_back({{"type", "object"},
                       {"properties", {{"name", {{"const", f.at("name")}}}, {"arguments", params}}},
                       {"required", {"name", "arguments"}}});
    }
    return {{"anyOf", any}};
}

}  // namespace tandem::gram
