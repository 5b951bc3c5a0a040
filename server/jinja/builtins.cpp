// Operators, attribute/item access, iteration, str/dict/list methods and global functions with
// Python semantics (Jinja2 evaluates templates as Python expressions).
#include "server/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

namespace tandem::jinja {

namespace {

// Decodes the code point starting at s[i]; sets `len` to its byte length (invalid bytes count as one).
uint32_t decode_cp(std::string_view s, size_t i, size_t& len) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + static_cast<size_t>(n) > s.size()) n = 1;
    len = static_cast<size_t>(n);
    if (n == 1) return c;
    uint32_t cp = c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    return cp;
}

bool is_py_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
           cp == 0x3000;
}

size_t prev_cp_start(std::string_view s, size_t end) {
    size_t i = end - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    return i;
}

char ascii_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c;
}
char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
bool ascii_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string str_upper(std::string s) {
    for (char& c : s) c = ascii_upper(c);
    return s;
}
std::string str_lower(std::string s) {
    for (char& c : s) c = ascii_lower(c);
    return s;
}

// Python str.title(): a letter after a non-letter is upper-cased, other letters lower-cased.
std::string str_title(std::string s) {
    bool prev_cased = false;
    for (char& c : s) {
        if (ascii_alpha(c)) {
            c = prev_cased ? ascii_lower(c) : ascii_upper(c);
            prev_cased = true;
        } else {
            prev_cased = false;
        }
    }
    return s;
}

std::string str_capitalize(std::string s) {
    s = str_lower(std::move(s));
    if (!s.empty()) s[0] = ascii_upper(s[0]);
    return s;
}

std::string arg_string(const call_args& a, size_t i, const char* name, const char* method) {
    const value* v = i < a.positional.size() ? &a.positional[i] : a.get_named(name);
    if (!v || !v->is_string()) throw value_error{std::string(method) + "() expects a string argument '" + name + "'"};
    return v->str();
}

const value* arg(const call_args& a, size_t i, const char* name) {
    if (i < a.positional.size()) return &a.positional[i];
    return a.get_named(name);
}

value_list split_whitespace(const std::string& s, int64_t maxsplit) {
    value_list out;
    size_t i = 0, n = s.size();
    while (true) {
        size_t len = 0;
        while (i < n && is_py_space(decode_cp(s, i, len))) i += len;
        if (i >= n) break;
        if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
            out.emplace_back(py_strip(s.substr(i), nullptr, false, true));
            break;
        }
        size_t start = i;
        while (i < n && !is_py_space(decode_cp(s, i, len))) i += len;
        out.emplace_back(s.substr(start, i - start));
    }
    return out;
}

value_list split_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
    if (sep.empty()) throw value_error{"empty separator"};
    value_list out;
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
        size_t p = s.find(sep, start);
        if (p == std::string::npos) break;
        out.emplace_back(s.substr(start, p - start));
        start = p + sep.size();
    }
    out.emplace_back(s.substr(start));
    return out;
}

value_list rsplit_sep(const std::string& s, const std::string& sep, int64_t maxsplit) {
    if (maxsplit < 0) return split_sep(s, sep, -1);
    if (sep.empty()) throw value_error{"empty separator"};
    value_list rev;
    size_t end = s.size();
    while (static_cast<int64_t>(rev.size()) < maxsplit && end >= sep.size()) {
        size_t p = s.rfind(sep, end - sep.size());
        if (p == std::string::npos) break;
        rev.emplace_back(s.substr(p + sep.size(), end - p - sep.size()));
        end = p;
    }
    rev.emplace_back(s.substr(0, end));
    std::reverse(rev.begin(), rev.end());
    return rev;
}

std::string str_replace(interpreter& in, const std::string& s, const std::string& from, const std::string& to,
                        int64_t count) {
    std::string out;
    if (from.empty()) {
        auto chars = utf8_chars(s);
        int64_t done = 0;
        for (const auto& c : chars) {
            if (count < 0 || done < count) {
                out += to;
                ++done;
            }
            out += c;
        }
        if (count < 0 || done < count) out += to;
    } else {
        size_t start = 0;
        int64_t done = 0;
        while (count < 0 || done < count) {
            size_t p = s.find(from, start);
            if (p == std::string::npos) break;
            out.append(s, start, p - start);
            out += to;
            start = p + from.size();
            ++done;
            in.check_string(out.size());
        }
        out.append(s, start, std::string::npos);
    }
    in.check_string(out.size());
    in.charge(out.size() / 16);
    return out;
}

bool starts_or_ends(const std::string& s, const value& affix, bool starts) {
    auto one = [&](const value& a) {
        if (!a.is_string()) throw value_error{"startswith/endswith expects a string or a tuple of strings"};
        const std::string& p = a.str();
        if (p.size() > s.size()) return false;
        return starts ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0;
    };
    if (affix.is_list()) {
        for (const auto& a : affix.list()) {
            if (one(a)) return true;
        }
        return false;
    }
    return one(affix);
}

// Python str.format with {}, {0} and {name} fields (format specs are not supported).
std::string str_format(const std::string& fmt, const call_args& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (c == '{') {
            size_t close = fmt.find('}', i);
            if (close == std::string::npos) throw value_error{"format(): unmatched '{'"};
            std::string field = fmt.substr(i + 1, close - i - 1);
            field = field.substr(0, field.find(':'));
            const value* v = nullptr;
            if (field.empty()) {
                v = auto_index < args.positional.size() ? &args.positional[auto_index] : nullptr;
                ++auto_index;
            } else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; })) {
                size_t k = std::stoul(field);
                v = k < args.positional.size() ? &args.positional[k] : nullptr;
            } else {
                v = args.get_named(field);
            }
            if (!v) throw value_error{"format(): missing argument for field '{" + field + "}'"};
            out += to_str(*v);
            i = close;
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<value> string_method(interpreter& in, const std::string& s, const std::string& name, call_args& a) {
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        const value* chars = arg(a, 0, "chars");
        if (chars && chars->is_none()) chars = nullptr;
        return value(py_strip(s, chars, name != "rstrip", name != "lstrip"));
    }
    if (name == "split" || name == "rsplit") {
        const value* sep = arg(a, 0, "sep");
        const value* maxv = arg(a, 1, "maxsplit");
        int64_t maxsplit = maxv ? maxv->to_int() : -1;
        in.charge(s.size() / 16);
        if (!sep || sep->is_none()) return value(split_whitespace(s, maxsplit));
        if (!sep->is_string()) throw value_error{"split() separator must be a string"};
        return value(name == "split" ? split_sep(s, sep->str(), maxsplit) : rsplit_sep(s, sep->str(), maxsplit));
    }
    if (name == "startswith" || name == "endswith") {
        const value* affix = arg(a, 0, "prefix");
        if (!affix) throw value_error{name + "() takes one argument"};
        return value(starts_or_ends(s, *affix, name == "startswith"));
    }
    if (name == "upper") return value(str_upper(s));
    if (name == "lower") return value(str_lower(s));
    if (name == "title") return value(str_title(s));
    if (name == "capitalize") return value(str_capitalize(s));
    if (name == "replace") {
        const value* count = arg(a, 2, "count");
        return value(str_replace(in, s, arg_string(a, 0, "old", "replace"), arg_string(a, 1, "new", "replace"),
                                 count ? count->to_int() : -1));
    }
    if (name == "find" || name == "index" || name == "rfind") {
        std::string sub = arg_string(a, 0, "sub", name.c_str());
        size_t p = name == "rfind" ? s.rfind(sub) : s.find(sub);
        if (p == std::string::npos) {
            if (name == "index") throw value_error{"substring not found"};
            return value(int64_t{-1});
        }
        return value(utf8_length(std::string_view(s).substr(0, p)));
    }
    if (name == "count") {
        std::string sub = arg_string(a, 0, "sub", "count");
        if (sub.empty()) return value(utf8_length(s) + 1);
        int64_t n = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
        return value(n);
    }
    if (name == "join") {
        const value* items = arg(a, 0, "iterable");
        if (!items) throw value_error{"join() takes one argument"};
        std::string out;
        bool first = true;
        for (const auto& item : iterate(*items)) {
            if (!first) out += s;
            first = false;
            out += to_str(item);
            in.check_string(out.size());
        }
        return value(std::move(out));
    }
    if (name == "splitlines") {
        value_list lines;
        size_t start = 0;
        for (size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\n' || s[i] == '\r') {
                lines.emplace_back(s.substr(start, i - start));
                if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                start = i + 1;
            }
        }
        if (start < s.size()) lines.emplace_back(s.substr(start));
        return value(std::move(lines));
    }
    if (name == "format") return value(str_format(s, a));
    auto all_of = [&](auto pred) {
        return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return pred(c); });
    };
    if (name == "isdigit") return value(all_of([](char c) { return c >= '0' && c <= '9'; }));
    if (name == "isalpha") return value(all_of([](char c) { return ascii_alpha(c); }));
    if (name == "isalnum") return value(all_of([](char c) { return ascii_alpha(c) || (c >= '0' && c <= '9'); }));
    if (name == "isspace") return value(all_of([](char c) { return is_py_space(static_cast<unsigned char>(c)); }));
    if (name == "islower") return value(std::any_of(s.begin(), s.end(), ascii_alpha) && str_lower(s) == s);
    if (name == "isupper") return value(std::any_of(s.begin(), s.end(), ascii_alpha) && str_upper(s) == s);
    return std::nullopt;
}

std::optional<value> map_method(const value& obj, const std::string& name, call_args& a) {
    const value_map& m = obj.map();
    if (name == "items") {
        value_list out;
        for (const auto& [k, v] : m.entries()) out.push_back(value(value_list{value(k), v}));
        return value(std::move(out));
    }
    if (name == "keys") {
        value_list out;
        for (const auto& e : m.entries()) out.emplace_back(e.first);
        return value(std::move(out));
    }
    if (name == "values") {
        value_list out;
        for (const auto& e : m.entries()) out.push_back(e.second);
        return value(std::move(out));
    }
    if (name == "get") {
        const value* key = arg(a, 0, "key");
        if (!key) throw value_error{"get() takes at least one argument"};
        const value* found = key->is_string() ? m.find(key->str()) : nullptr;
        if (found) return *found;
        const value* def = arg(a, 1, "default");
        return def ? *def : value(none_t{});
    }
    return std::nullopt;
}

std::optional<value> list_method(const value& obj, const std::string& name, call_args& a) {
    const value_list& l = obj.list();
    if (name == "index" || name == "count") {
        const value* x = arg(a, 0, "value");
        if (!x) throw value_error{name + "() takes one argument"};
        int64_t n = 0;
        for (size_t i = 0; i < l.size(); ++i) {
            if (equals(l[i], *x)) {
                if (name == "index") return value(i);
                ++n;
            }
        }
        if (name == "index") throw value_error{"value is not in list"};
        return value(n);
    }
    return std::nullopt;
}

struct bound_method : callable {
    value receiver;
    bound_method(value r, std::string n) : receiver(std::move(r)) { name = std::move(n); }
    value call(interpreter& in, call_args& args) override {
        if (auto r = call_method(in, receiver, name, args)) return *r;
        throw value_error{"no method '" + name + "'"};
    }
};

int64_t add_checked(int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) throw value_error{"integer overflow"};
    return r;
}
int64_t sub_checked(int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_sub_overflow(a, b, &r)) throw value_error{"integer overflow"};
    return r;
}
int64_t mul_checked(int64_t a, int64_t b) {
    int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) throw value_error{"integer overflow"};
    return r;
}

int64_t int_pow(int64_t base, int64_t exp) {
    int64_t result = 1;
    while (exp > 0) {
        if (exp & 1) result = mul_checked(result, base);
        exp >>= 1;
        if (exp) base = mul_checked(base, base);
    }
    return result;
}

value repeat(interpreter& in, const value& seq, int64_t n) {
    if (n <= 0) return seq.is_string() ? value(std::string()) : value(value_list{});
    if (seq.is_string()) {
        size_t total = seq.str().size() * static_cast<size_t>(n);
        if (n > 0 && total / static_cast<size_t>(n) != seq.str().size()) throw value_error{"string too large"};
        in.check_string(total);
        in.charge(total / 16);
        std::string out;
        out.reserve(total);
        for (int64_t i = 0; i < n; ++i) out += seq.str();
        return value(std::move(out));
    }
    size_t total = seq.list().size() * static_cast<size_t>(n);
    in.charge(total);
    value_list out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list().begin(), seq.list().end());
    return value(std::move(out));
}

[[noreturn]] void bad_operands(const std::string& op, const value& l, const value& r) {
    throw value_error{"unsupported operand type(s) for " + op + ": '" + type_name(l) + "' and '" + type_name(r) + "'"};
}

}  // namespace

std::string py_strip(const std::string& s, const value* chars, bool left, bool right) {
    std::vector<std::string> set;
    if (chars) {
        if (!chars->is_string()) throw value_error{"strip arg must be None or str"};
        set = utf8_chars(chars->str());
    }
    std::string_view sv(s);
    auto strippable = [&](size_t i, size_t& len) {
        uint32_t cp = decode_cp(sv, i, len);
        if (!chars) return is_py_space(cp);
        std::string_view c = sv.substr(i, len);
        return std::find(set.begin(), set.end(), c) != set.end();
    };
    size_t begin = 0, end = s.size(), len = 0;
    if (left) {
        while (begin < end && strippable(begin, len)) begin += len;
    }
    if (right) {
        while (end > begin) {
            size_t p = prev_cp_start(sv, end);
            if (!strippable(p, len) || p + len != end) break;
            end = p;
        }
    }
    return s.substr(begin, end - begin);
}

bool has_method(const value& obj, const std::string& name) {
    static const char* str_methods[] = {
        "strip",  "lstrip",     "rstrip",  "split",   "rsplit",  "startswith", "endswith", "upper", "lower",
        "title",  "capitalize", "replace", "find",    "rfind",   "index",      "count",    "join",  "splitlines",
        "format", "isdigit",    "isalpha", "isalnum", "isspace", "islower",    "isupper"};
    static const char* map_methods[] = {"items", "keys", "values", "get"};
    static const char* list_methods[] = {"index", "count"};
    auto in = [&](const auto& table) {
        return std::any_of(std::begin(table), std::end(table), [&](const char* m) { return name == m; });
    };
    if (obj.is_string()) return in(str_methods);
    if (obj.is_map()) return !obj.map().is_namespace && in(map_methods);
    if (obj.is_list()) return in(list_methods);
    return false;
}

std::optional<value> call_method(interpreter& in, const value& obj, const std::string& name, call_args& args) {
    if (obj.is_string()) return string_method(in, obj.str(), name, args);
    if (obj.is_map() && !obj.map().is_namespace) return map_method(obj, name, args);
    if (obj.is_list()) return list_method(obj, name, args);
    return std::nullopt;
}

value get_attr(interpreter& in, const value& obj, const std::string& name) {
    (void)in;
    if (obj.is_map()) {
        // Jinja's getattr comes first: d.items is the method even if the dict has an "items" key.
        if (has_method(obj, name)) return value(func_ptr(std::make_shared<bound_method>(obj, name)));
        const value* v = obj.map().find(name);
        return v ? *v : value();
    }
    if (has_method(obj, name)) return value(func_ptr(std::make_shared<bound_method>(obj, name)));
    return value();
}

value get_item(const value& obj, const value& key) {
    if (obj.is_map()) {
        if (!key.is_string()) return value();
        const value* v = obj.map().find(key.str());
        return v ? *v : value();
    }
    if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
        int64_t i = key.to_int();
        if (obj.is_list()) {
            int64_t n = static_cast<int64_t>(obj.list().size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return value();
            return obj.list()[static_cast<size_t>(i)];
        }
        int64_t n = static_cast<int64_t>(utf8_length(obj.str()));
        if (i < 0) i += n;
        if (i < 0 || i >= n) return value();
        size_t b = utf8_offset(obj.str(), static_cast<size_t>(i));
        size_t e = utf8_offset(obj.str(), static_cast<size_t>(i) + 1);
        return value(obj.str().substr(b, e - b));
    }
    return value();
}

value slice_value(const value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step) {
    if (step == 0) throw value_error{"slice step cannot be zero"};
    if (obj.is_undefined()) return value();
    std::vector<std::string> chars;
    int64_t n;
    if (obj.is_list()) {
        n = static_cast<int64_t>(obj.list().size());
    } else if (obj.is_string()) {
        chars = utf8_chars(obj.str());
        n = static_cast<int64_t>(chars.size());
    } else {
        throw value_error{"'" + type_name(obj) + "' object is not subscriptable"};
    }
    auto clamp = [&](std::optional<int64_t> v, int64_t def) {
        if (!v) return def;
        int64_t x = *v;
        if (x < 0) x += n;
        if (step > 0) return std::clamp<int64_t>(x, 0, n);
        return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t b = clamp(start, step > 0 ? 0 : n - 1);
    int64_t e = clamp(stop, step > 0 ? n : -1);
    std::vector<size_t> picked;
    for (int64_t i = b; step > 0 ? i < e : i > e; i += step) picked.push_back(static_cast<size_t>(i));
    if (obj.is_list()) {
        value_list out;
        out.reserve(picked.size());
        for (size_t i : picked) out.push_back(obj.list()[i]);
        return value(std::move(out));
    }
    std::string out;
    for (size_t i : picked) out += chars[i];
    return value(std::move(out));
}

value_list iterate(const value& v) {
    if (v.is_list()) return v.list();
    if (v.is_map()) {
        value_list keys;
        for (const auto& e : v.map().entries()) keys.emplace_back(e.first);
        return keys;
    }
    if (v.is_string()) {
        value_list out;
        for (auto& c : utf8_chars(v.str())) out.emplace_back(std::move(c));
        return out;
    }
    if (v.is_undefined()) return {};
    throw value_error{"'" + type_name(v) + "' object is not iterable"};
}

bool contains(const value& container, const value& item) {
    if (container.is_string()) {
        if (!item.is_string()) throw value_error{"'in <string>' requires string as left operand"};
        return container.str().find(item.str()) != std::string::npos;
    }
    if (container.is_list()) {
        for (const auto& x : container.list()) {
            if (equals(x, item)) return true;
        }
        return false;
    }
    if (container.is_map()) return item.is_string() && container.map().find(item.str()) != nullptr;
    if (container.is_undefined()) return false;
    throw value_error{"argument of type '" + type_name(container) + "' is not iterable"};
}

value unary_op(const std::string& op, const value& v) {
    if (!v.is_number()) throw value_error{"bad operand type for unary " + op + ": '" + type_name(v) + "'"};
    if (op == "+") return v.is_bool() ? value(v.to_int()) : v;
    if (v.is_float()) return value(-v.as_float());
    int64_t x = v.to_int();
    if (x == INT64_MIN) throw value_error{"integer overflow"};
    return value(-x);
}

value binary_op(interpreter& in, const std::string& op, const value& l, const value& r) {
    bool nums = l.is_number() && r.is_number();
    bool floats = nums && (l.is_float() || r.is_float());
    if (op == "+") {
        if (nums) {
            if (floats) return value(l.to_double() + r.to_double());
            return value(add_checked(l.to_int(), r.to_int()));
        }
        if (l.is_string() && r.is_string()) {
            in.check_string(l.str().size() + r.str().size());
            in.charge((l.str().size() + r.str().size()) / 16);
            return value(l.str() + r.str());
        }
        if (l.is_list() && r.is_list()) {
            in.charge((l.list().size() + r.list().size()) / 8 + 1);  // element copies are refcount bumps
            value_list out = l.list();
            out.insert(out.end(), r.list().begin(), r.list().end());
            return value(std::move(out));
        }
        bad_operands(op, l, r);
    }
    if (op == "*") {
        if (nums) {
            if (floats) return value(l.to_double() * r.to_double());
            return value(mul_checked(l.to_int(), r.to_int()));
        }
        if ((l.is_string() || l.is_list()) && (r.is_int() || r.is_bool())) return repeat(in, l, r.to_int());
        if ((r.is_string() || r.is_list()) && (l.is_int() || l.is_bool())) return repeat(in, r, l.to_int());
        bad_operands(op, l, r);
    }
    if (op == "%" && l.is_string()) return value(percent_format(l.str(), r));
    if (!nums) bad_operands(op, l, r);
    if (op == "-") {
        if (floats) return value(l.to_double() - r.to_double());
        return value(sub_checked(l.to_int(), r.to_int()));
    }
    if (op == "/") {
        if (r.to_double() == 0.0) throw value_error{"division by zero"};
        return value(l.to_double() / r.to_double());
    }
    if (op == "//" || op == "%") {
        if (r.to_double() == 0.0) throw value_error{op == "//" ? "integer division by zero" : "modulo by zero"};
        if (floats) {
            double a = l.to_double(), b = r.to_double();
            double m = std::fmod(a, b);
            if (m != 0 && ((m < 0) != (b < 0))) m += b;
            return op == "%" ? value(m) : value(std::floor(a / b));
        }
        int64_t a = l.to_int(), b = r.to_int();
        if (a == INT64_MIN && b == -1) throw value_error{"integer overflow"};
        int64_t q = a / b, m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) {
            m += b;
            --q;
        }
        return op == "%" ? value(m) : value(q);
    }
    if (op == "**") {
        if (!floats && r.to_int() >= 0) return value(int_pow(l.to_int(), r.to_int()));
        return value(std::pow(l.to_double(), r.to_double()));
    }
    throw value_error{"unknown operator '" + op + "'"};
}

std::string percent_format(const std::string& fmt, const value& args) {
    value_list positional = args.is_list() ? args.list() : value_list{args};
    size_t next = 0;
    std::string out;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) throw value_error{"incomplete format"};
        if (fmt[i] == '%') {
            out += '%';
            continue;
        }
        const value* v = nullptr;
        if (fmt[i] == '(') {
            size_t close = fmt.find(')', i);
            if (close == std::string::npos || !args.is_map()) throw value_error{"format requires a mapping"};
            v = args.map().find(fmt.substr(i + 1, close - i - 1));
            if (!v) throw value_error{"format key not found"};
            i = close + 1;
        }
        std::string spec = "%";
        while (i < fmt.size() && std::strchr("-+ #0123456789.", fmt[i])) spec += fmt[i++];
        if (i >= fmt.size()) throw value_error{"incomplete format"};
        char type = fmt[i];
        if (!v) {
            if (next >= positional.size()) throw value_error{"not enough arguments for format string"};
            v = &positional[next++];
        }
        char buf[128];
        if (type == 's' || type == 'r') {
            std::string s;
            if (type == 's')
                s = to_str(*v);
            else
                append_repr(s, *v);
            out += s;
        } else if (type == 'd' || type == 'i' || type == 'x' || type == 'X' || type == 'o') {
            int64_t x = v->is_float() ? static_cast<int64_t>(v->as_float()) : v->to_int();
            spec += "ll";
            spec += type == 'i' ? 'd' : type;
            std::snprintf(buf, sizeof(buf), spec.c_str(), static_cast<long long>(x));
            out += buf;
        } else if (std::strchr("feEgG", type) || type == 'F') {
            spec += type;
            std::snprintf(buf, sizeof(buf), spec.c_str(), v->to_double());
            out += buf;
        } else {
            throw value_error{std::string("unsupported format character '") + type + "'"};
        }
    }
    return out;
}

}  // namespace tandem::jinja
