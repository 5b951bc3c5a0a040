// Jinja2's builtin filters and tests (the subset chat templates use), plus transformers' `tojson`.
// Undefined inputs behave like Jinja2's default Undefined: empty string / empty sequence.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "server/jinja/builtins.h"
#include "server/jinja/parser.h"

namespace tandem::jinja {

namespace {

using filter_fn = value (*)(interpreter&, const value&, call_args&);
using test_fn = bool (*)(interpreter&, const value&, call_args&);

const value* arg(const call_args& a, size_t i, const char* name) {
    if (i < a.positional.size()) return &a.positional[i];
    return a.get_named(name);
}

bool arg_bool(const call_args& a, size_t i, const char* name, bool def) {
    const value* v = arg(a, i, name);
    return v ? truthy(*v) : def;
}

std::string input_str(const value& v) {
    return to_str(v);
}

std::string lower_ascii(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return s;
}

// Jinja attribute paths: "a.b.0" looks up each part as an item (digits as integers) then attribute.
value get_path(interpreter& in, const value& obj, const std::string& path) {
    value cur = obj;
    size_t start = 0;
    while (true) {
        size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        bool digits =
            !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        value next = digits ? get_item(cur, value(static_cast<int64_t>(std::stoll(part)))) : get_item(cur, value(part));
        if (next.is_undefined()) next = get_attr(in, cur, part);
        cur = std::move(next);
        if (dot == std::string::npos) return cur;
        start = dot + 1;
    }
}

// Sort key: an attribute path of the item, lower-cased if the comparison is case-insensitive.
value sort_key(interpreter& in, const value& item, const value* attribute, bool case_sensitive) {
    value k = attribute && attribute->is_string() ? get_path(in, item, attribute->str()) : item;
    if (!case_sensitive && k.is_string()) return value(lower_ascii(k.str()));
    return k;
}

value f_trim(interpreter&, const value& v, call_args& a) {
    const value* chars = arg(a, 0, "chars");
    if (chars && chars->is_none()) chars = nullptr;
    return value(py_strip(input_str(v), chars, true, true));
}

value f_upper(interpreter& in, const value& v, call_args& a) {
    return *call_method(in, value(input_str(v)), "upper", a);
}
value f_lower(interpreter& in, const value& v, call_args& a) {
    return *call_method(in, value(input_str(v)), "lower", a);
}
value f_capitalize(interpreter& in, const value& v, call_args& a) {
    return *call_method(in, value(input_str(v)), "capitalize", a);
}

// Jinja's title: upper-cases the first letter after '-', whitespace or an opening bracket.
value f_title(interpreter&, const value& v, call_args&) {
    std::string s = input_str(v);
    bool word_start = true;
    for (char& c : s) {
        bool sep =
            c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) {
            word_start = true;
        } else if (word_start) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
            word_start = false;
        } else if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c + 32);
        }
    }
    return value(std::move(s));
}

value f_length(interpreter&, const value& v, call_args&) {
    if (v.is_string()) return value(utf8_length(v.str()));
    if (v.is_list()) return value(v.list().size());
    if (v.is_map()) return value(v.map().size());
    if (v.is_undefined()) return value(int64_t{0});
    throw value_error{"object of type '" + type_name(v) + "' has no len()"};
}

value f_first(interpreter&, const value& v, call_args&) {
    value_list items = iterate(v);
    return items.empty() ? value() : items.front();
}

value f_last(interpreter&, const value& v, call_args&) {
    if (v.is_map()) throw value_error{"last() of a mapping is not supported"};
    value_list items = iterate(v);
    return items.empty() ? value() : items.back();
}

value f_join(interpreter& in, const value& v, call_args& a) {
    const value* sep = arg(a, 0, "d");
    const value* attribute = arg(a, 1, "attribute");
    std::string d = sep ? to_str(*sep) : "";
    std::string out;
    bool first = true;
    for (const auto& item : iterate(v)) {
        if (!first) out += d;
        first = false;
        out += to_str(attribute ? get_path(in, item, to_str(*attribute)) : item);
        in.check_string(out.size());
    }
    in.charge(out.size() / 16);
    return value(std::move(out));
}

value f_default(interpreter&, const value& v, call_args& a) {
    const value* def = arg(a, 0, "default_value");
    bool boolean = arg_bool(a, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !truthy(v))) return def ? *def : value(std::string());
    return v;
}

value f_tojson(interpreter& in, const value& v, call_args& a) {
    json_dump_options opt;
    if (const value* indent = arg(a, 0, "indent"); indent && !indent->is_none()) {
        opt.indent = static_cast<int>(std::clamp<int64_t>(indent->to_int(), 0, 64));
    }
    opt.sort_keys = arg_bool(a, 99, "sort_keys", false);
    if (const value* seps = a.get_named("separators"); seps && seps->is_list() && seps->list().size() == 2) {
        opt.item_separator = to_str(seps->list()[0]);
        opt.key_separator = to_str(seps->list()[1]);
    }
    in.charge(v.depth() * 4);
    std::string out = to_json(v, opt);
    in.check_string(out.size());
    in.charge(out.size() / 16);
    return value(std::move(out));
}

value f_string(interpreter&, const value& v, call_args&) {
    return value(to_str(v));
}

value f_int(interpreter&, const value& v, call_args& a) {
    const value* def = arg(a, 0, "default");
    value fallback = def ? *def : value(int64_t{0});
    if (v.is_int() || v.is_bool()) return value(v.to_int());
    if (v.is_float()) {
        double d = v.as_float();
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
        return value(static_cast<int64_t>(d));
    }
    if (v.is_string()) {
        std::string s = py_strip(v.str(), nullptr, true, true);
        try {
            size_t used = 0;
            int64_t x = std::stoll(s, &used, 10);
            if (used == s.size()) return value(x);
            double d = std::stod(s, &used);
            if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) return value(static_cast<int64_t>(d));
        } catch (const std::exception&) {
        }
    }
    return fallback;
}

value f_float(interpreter&, const value& v, call_args& a) {
    const value* def = arg(a, 0, "default");
    value fallback = def ? *def : value(0.0);
    if (v.is_number()) return value(v.to_double());
    if (v.is_string()) {
        std::string s = py_strip(v.str(), nullptr, true, true);
        try {
            size_t used = 0;
            double d = std::stod(s, &used);
            if (used == s.size()) return value(d);
        } catch (const std::exception&) {
        }
    }
    return fallback;
}

value f_list(interpreter& in, const value& v, call_args&) {
    value_list items = iterate(v);
    in.charge(items.size());
    return value(std::move(items));
}

value f_items(interpreter&, const value& v, call_args&) {
    if (v.is_undefined()) return value(value_list{});
    if (!v.is_map()) throw value_error{"items filter expects a mapping, got " + type_name(v)};
    value_list out;
    for (const auto& [k, item] : v.map().entries()) out.push_back(value(value_list{value(k), item}));
    return value(std::move(out));
}

value f_dictsort(interpreter& in, const value& v, call_args& a) {
    if (!v.is_map()) throw value_error{"dictsort expects a mapping, got " + type_name(v)};
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const value* by = arg(a, 1, "by");
    bool by_value = by && by->is_string() && by->str() == "value";
    bool reverse = arg_bool(a, 2, "reverse", false);
    std::vector<std::pair<value, value_list>> keyed;
    for (const auto& [k, item] : v.map().entries()) {
        value key = sort_key(in, by_value ? item : value(k), nullptr, case_sensitive);
        keyed.push_back({std::move(key), value_list{value(k), item}});
    }
    in.charge(keyed.size() * 8);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        int c = compare(x.first, y.first);
        return reverse ? c > 0 : c < 0;
    });
    value_list out;
    for (auto& [key, pair] : keyed) out.push_back(value(std::move(pair)));
    return value(std::move(out));
}

value f_map(interpreter& in, const value& v, call_args& a) {
    value_list out;
    if (const value* attribute = a.get_named("attribute")) {
        const value* def = a.get_named("default");
        for (const auto& item : iterate(v)) {
            value x = get_path(in, item, to_str(*attribute));
            out.push_back(x.is_undefined() && def ? *def : x);
        }
        return value(std::move(out));
    }
    if (a.positional.empty() || !a.positional[0].is_string()) throw value_error{"map() needs a filter name"};
    std::string filter = a.positional[0].str();
    if (!filter_exists(filter)) throw value_error{"no filter named '" + filter + "'"};
    call_args rest;
    rest.positional.assign(a.positional.begin() + 1, a.positional.end());
    rest.named = a.named;
    for (const auto& item : iterate(v)) {
        call_args copy = rest;
        out.push_back(in.apply_filter(filter, item, copy));
    }
    return value(std::move(out));
}

// select / reject / selectattr / rejectattr share this: keep items whose (attribute's) test result == keep.
value select_impl(interpreter& in, const value& v, call_args& a, bool by_attr, bool keep) {
    size_t next = 0;
    std::string attribute;
    if (by_attr) {
        if (a.positional.empty()) throw value_error{"selectattr/rejectattr need an attribute name"};
        attribute = to_str(a.positional[next++]);
    }
    std::string test;
    if (next < a.positional.size()) test = to_str(a.positional[next++]);
    if (!test.empty() && !test_exists(test)) throw value_error{"no test named '" + test + "'"};
    call_args test_args;
    test_args.positional.assign(a.positional.begin() + static_cast<long>(next), a.positional.end());
    value_list out;
    for (const auto& item : iterate(v)) {
        in.charge(1);
        value subject = by_attr ? get_path(in, item, attribute) : item;
        bool r;
        if (test.empty()) {
            r = truthy(subject);
        } else {
            call_args copy = test_args;
            r = in.apply_test(test, subject, copy);
        }
        if (r == keep) out.push_back(item);
    }
    return value(std::move(out));
}

value f_select(interpreter& in, const value& v, call_args& a) {
    return select_impl(in, v, a, false, true);
}
value f_reject(interpreter& in, const value& v, call_args& a) {
    return select_impl(in, v, a, false, false);
}
value f_selectattr(interpreter& in, const value& v, call_args& a) {
    return select_impl(in, v, a, true, true);
}
value f_rejectattr(interpreter& in, const value& v, call_args& a) {
    return select_impl(in, v, a, true, false);
}

value f_replace(interpreter& in, const value& v, call_args& a) {
    return *call_method(in, value(input_str(v)), "replace", a);
}

value f_safe(interpreter&, const value& v, call_args&) {
    return v;
}

value f_escape(interpreter&, const value& v, call_args&) {
    std::string out;
    for (char c : input_str(v)) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return value(std::move(out));
}

// Python's str.center: the odd space goes right unless the width is odd too.
value f_center(interpreter& in, const value& v, call_args& a) {
    const std::string s = input_str(v);
    const value* w = arg(a, 0, "width");
    const int64_t width = std::clamp<int64_t>(w ? w->to_int() : 80, 0, 1 << 16);
    const int64_t n = static_cast<int64_t>(utf8_length(s));
    if (width <= n) return value(s);
    const int64_t marg = width - n, left = marg / 2 + (marg & width & 1);
    in.check_string(s.size() + static_cast<size_t>(marg));
    return value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(marg - left), ' '));
}

// Jinja2's truncate(length=255, killwords=False, end='...', leeway=5).
value f_truncate(interpreter&, const value& v, call_args& a) {
    const std::vector<std::string> chars = utf8_chars(input_str(v));
    const value* len_v = arg(a, 0, "length");
    const int64_t length = len_v ? len_v->to_int() : 255;
    const bool killwords = arg_bool(a, 1, "killwords", false);
    const value* end_v = arg(a, 2, "end");
    const std::string end = end_v ? to_str(*end_v) : "...";
    const value* leeway_v = arg(a, 3, "leeway");
    const int64_t leeway = leeway_v && !leeway_v->is_none() ? leeway_v->to_int() : 5;
    const int64_t n_end = static_cast<int64_t>(utf8_length(end));
    if (length < n_end) throw value_error{"truncate(): length is shorter than the end marker"};
    auto join = [&](int64_t k) {
        std::string out;
        for (int64_t i = 0; i < k && i < static_cast<int64_t>(chars.size()); ++i) out += chars[static_cast<size_t>(i)];
        return out;
    };
    if (static_cast<int64_t>(chars.size()) <= length + leeway) return value(join(static_cast<int64_t>(chars.size())));
    std::string head = join(length - n_end);
    if (!killwords) {
        const size_t sp = head.rfind(' ');
        if (sp != std::string::npos) head.resize(sp);
    }
    return value(head + end);
}

value f_indent(interpreter& in, const value& v, call_args& a) {
    const value* width = arg(a, 0, "width");
    bool first = arg_bool(a, 1, "first", false);
    bool blank = arg_bool(a, 2, "blank", false);
    std::string pad = !width ? "    "
                      : width->is_string()
                          ? width->str()
                          : std::string(static_cast<size_t>(std::clamp<int64_t>(width->to_int(), 0, 256)), ' ');
    call_args none;
    value_list lines = call_method(in, value(input_str(v) + "\n"), "splitlines", none)->list();
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i].str();
        if (i > 0) out += "\n";
        if ((i > 0 || first) && (blank || !line.empty())) out += pad;
        out += line;
        in.check_string(out.size());
    }
    return value(std::move(out));
}

value f_unique(interpreter& in, const value& v, call_args& a) {
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const value* attribute = arg(a, 1, "attribute");
    value_list out, seen;
    for (const auto& item : iterate(v)) {
        value key = sort_key(in, item, attribute, case_sensitive);
        in.charge(seen.size() + 1);
        if (std::none_of(seen.begin(), seen.end(), [&](const value& s) { return equals(s, key); })) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return value(std::move(out));
}

value f_sum(interpreter& in, const value& v, call_args& a) {
    const value* attribute = arg(a, 0, "attribute");
    const value* start = arg(a, 1, "start");
    value total = start ? *start : value(int64_t{0});
    for (const auto& item : iterate(v)) {
        value x = attribute ? get_path(in, item, to_str(*attribute)) : item;
        total = binary_op(in, "+", total, x);
    }
    return total;
}

value f_abs(interpreter&, const value& v, call_args&) {
    if (v.is_float()) return value(std::fabs(v.as_float()));
    int64_t x = v.to_int();
    if (x == INT64_MIN) throw value_error{"integer overflow"};
    return value(x < 0 ? -x : x);
}

value f_round(interpreter&, const value& v, call_args& a) {
    const value* prec = arg(a, 0, "precision");
    const value* method = arg(a, 1, "method");
    double scale = std::pow(10.0, static_cast<double>(prec ? std::clamp<int64_t>(prec->to_int(), -20, 20) : 0));
    double x = v.to_double() * scale;
    std::string m = method ? to_str(*method) : "common";
    if (m == "common")
        x = std::nearbyint(x);  // Python's round(): half to even
    else if (m == "floor")
        x = std::floor(x);
    else if (m == "ceil")
        x = std::ceil(x);
    else
        throw value_error{"round method must be 'common', 'ceil' or 'floor'"};
    return value(x / scale);
}

value f_reverse(interpreter&, const value& v, call_args&) {
    if (v.is_string()) {
        auto chars = utf8_chars(v.str());
        std::string out;
        for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
        return value(std::move(out));
    }
    value_list items = iterate(v);
    std::reverse(items.begin(), items.end());
    return value(std::move(items));
}

value f_sort(interpreter& in, const value& v, call_args& a) {
    bool reverse = arg_bool(a, 0, "reverse", false);
    bool case_sensitive = arg_bool(a, 1, "case_sensitive", false);
    const value* attribute = arg(a, 2, "attribute");
    std::vector<std::pair<value, value>> keyed;
    for (auto& item : iterate(v)) keyed.push_back({sort_key(in, item, attribute, case_sensitive), item});
    in.charge(keyed.size() * 8);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        int c = compare(x.first, y.first);
        return reverse ? c > 0 : c < 0;
    });
    value_list out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return value(std::move(out));
}

value f_batch(interpreter& in, const value& v, call_args& a) {
    const value* count = arg(a, 0, "linecount");
    if (!count || count->to_int() <= 0) throw value_error{"batch() needs a positive line count"};
    const value* fill = arg(a, 1, "fill_with");
    size_t n = static_cast<size_t>(count->to_int());
    value_list items = iterate(v), out, cur;
    in.charge(items.size());
    for (auto& item : items) {
        cur.push_back(std::move(item));
        if (cur.size() == n) {
            out.push_back(value(std::move(cur)));
            cur = value_list{};
        }
    }
    if (!cur.empty()) {
        while (fill && !fill->is_none() && cur.size() < n) cur.push_back(*fill);
        out.push_back(value(std::move(cur)));
    }
    return value(std::move(out));
}

value min_max(interpreter& in, const value& v, call_args& a, bool want_max) {
    bool case_sensitive = arg_bool(a, 0, "case_sensitive", false);
    const value* attribute = arg(a, 1, "attribute");
    value best, best_key;
    for (const auto& item : iterate(v)) {
        value key = sort_key(in, item, attribute, case_sensitive);
        if (best.is_undefined() || (want_max ? compare(key, best_key) > 0 : compare(key, best_key) < 0)) {
            best = item;
            best_key = key;
        }
    }
    return best;
}

value f_min(interpreter& in, const value& v, call_args& a) {
    return min_max(in, v, a, false);
}
value f_max(interpreter& in, const value& v, call_args& a) {
    return min_max(in, v, a, true);
}

value f_attr(interpreter& in, const value& v, call_args& a) {
    const value* name = arg(a, 0, "name");
    if (!name) throw value_error{"attr() needs a name"};
    return get_attr(in, v, to_str(*name));
}

value f_format(interpreter&, const value& v, call_args& a) {
    if (!a.named.empty()) {
        value m = make_map();
        for (const auto& [k, x] : a.named) m.map_handle()->set(k, x);
        return value(percent_format(input_str(v), m));
    }
    return value(percent_format(input_str(v), value(value_list(a.positional.begin(), a.positional.end()))));
}

value f_wordcount(interpreter& in, const value& v, call_args&) {
    call_args none;
    return value(call_method(in, value(input_str(v)), "split", none)->list().size());
}

const std::unordered_map<std::string, filter_fn>& filters() {
    static const std::unordered_map<std::string, filter_fn> table = {
        {"trim", f_trim},
        {"upper", f_upper},
        {"lower", f_lower},
        {"capitalize", f_capitalize},
        {"center", f_center},
        {"title", f_title},
        {"length", f_length},
        {"count", f_length},
        {"first", f_first},
        {"last", f_last},
        {"join", f_join},
        {"default", f_default},
        {"d", f_default},
        {"tojson", f_tojson},
        {"string", f_string},
        {"int", f_int},
        {"float", f_float},
        {"list", f_list},
        {"items", f_items},
        {"dictsort", f_dictsort},
        {"map", f_map},
        {"select", f_select},
        {"reject", f_reject},
        {"selectattr", f_selectattr},
        {"rejectattr", f_rejectattr},
        {"replace", f_replace},
        {"safe", f_safe},
        {"escape", f_escape},
        {"e", f_escape},
        {"forceescape", f_escape},
        {"indent", f_indent},
        {"unique", f_unique},
        {"sum", f_sum},
        {"abs", f_abs},
        {"round", f_round},
        {"reverse", f_reverse},
        {"sort", f_sort},
        {"batch", f_batch},
        {"min", f_min},
        {"max", f_max},
        {"attr", f_attr},
        {"format", f_format},
        {"truncate", f_truncate},
        {"wordcount", f_wordcount},
    };
    return table;
}

// --- tests -------------------------------------------------------------------------------------

const value& test_arg(const call_args& a, const char* test) {
    if (a.positional.empty()) throw value_error{std::string("test '") + test + "' needs an argument"};
    return a.positional[0];
}

bool t_defined(interpreter&, const value& v, call_args&) {
    return !v.is_undefined();
}
bool t_undefined(interpreter&, const value& v, call_args&) {
    return v.is_undefined();
}
bool t_none(interpreter&, const value& v, call_args&) {
    return v.is_none();
}
bool t_string(interpreter&, const value& v, call_args&) {
    return v.is_string();
}
bool t_number(interpreter&, const value& v, call_args&) {
    return v.is_number();
}
bool t_integer(interpreter&, const value& v, call_args&) {
    return v.is_int();
}
bool t_float(interpreter&, const value& v, call_args&) {
    return v.is_float();
}
bool t_mapping(interpreter&, const value& v, call_args&) {
    return v.is_map();
}
bool t_iterable(interpreter&, const value& v, call_args&) {
    return v.is_list() || v.is_map() || v.is_string() || v.is_undefined();
}
bool t_sequence(interpreter&, const value& v, call_args&) {
    return v.is_list() || v.is_map() || v.is_string();
}
bool t_boolean(interpreter&, const value& v, call_args&) {
    return v.is_bool();
}
bool t_true(interpreter&, const value& v, call_args&) {
    return v.is_bool() && v.as_bool();
}
bool t_false(interpreter&, const value& v, call_args&) {
    return v.is_bool() && !v.as_bool();
}
bool t_callable(interpreter&, const value& v, call_args&) {
    return v.is_func();
}
bool t_odd(interpreter&, const value& v, call_args&) {
    return v.to_int() % 2 != 0;
}
bool t_even(interpreter&, const value& v, call_args&) {
    return v.to_int() % 2 == 0;
}
bool t_divisibleby(interpreter&, const value& v, call_args& a) {
    int64_t d = test_arg(a, "divisibleby").to_int();
    if (d == 0) throw value_error{"divisibleby 0"};
    return v.to_int() % d == 0;
}
bool t_eq(interpreter&, const value& v, call_args& a) {
    return equals(v, test_arg(a, "eq"));
}
bool t_ne(interpreter&, const value& v, call_args& a) {
    return !equals(v, test_arg(a, "ne"));
}
bool t_lt(interpreter&, const value& v, call_args& a) {
    return compare(v, test_arg(a, "lt")) < 0;
}
bool t_le(interpreter&, const value& v, call_args& a) {
    return compare(v, test_arg(a, "le")) <= 0;
}
bool t_gt(interpreter&, const value& v, call_args& a) {
    return compare(v, test_arg(a, "gt")) > 0;
}
bool t_ge(interpreter&, const value& v, call_args& a) {
    return compare(v, test_arg(a, "ge")) >= 0;
}
bool t_in(interpreter&, const value& v, call_args& a) {
    return contains(test_arg(a, "in"), v);
}
bool t_sameas(interpreter&, const value& v, call_args& a) {
    const value& o = test_arg(a, "sameas");
    if (v.v.index() != o.v.index()) return false;
    if (v.is_list()) return &v.list() == &o.list();
    if (v.is_map()) return v.map_handle() == o.map_handle();
    if (v.is_func()) return v.func() == o.func();
    return equals(v, o);
}
bool t_lower(interpreter&, const value& v, call_args&) {
    return v.is_string() && lower_ascii(v.str()) == v.str();
}
bool t_upper(interpreter&, const value& v, call_args&) {
    if (!v.is_string()) return false;
    std::string s = v.str();
    for (char& c : s) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
    return s == v.str();
}
bool t_escaped(interpreter&, const value&, call_args&) {
    return false;
}

const std::unordered_map<std::string, test_fn>& tests() {
    static const std::unordered_map<std::string, test_fn> table = {
        {"defined", t_defined},
        {"undefined", t_undefined},
        {"none", t_none},
        {"string", t_string},
        {"number", t_number},
        {"integer", t_integer},
        {"float", t_float},
        {"mapping", t_mapping},
        {"iterable", t_iterable},
        {"sequence", t_sequence},
        {"boolean", t_boolean},
        {"true", t_true},
        {"false", t_false},
        {"callable", t_callable},
        {"odd", t_odd},
        {"even", t_even},
        {"divisibleby", t_divisibleby},
        {"equalto", t_eq},
        {"eq", t_eq},
        {"==", t_eq},
        {"ne", t_ne},
        {"!=", t_ne},
        {"lt", t_lt},
        {"<", t_lt},
        {"lessthan", t_lt},
        {"le", t_le},
        {"<=", t_le},
        {"gt", t_gt},
        {">", t_gt},
        {"greaterthan", t_gt},
        {"ge", t_ge},
        {">=", t_ge},
        {"in", t_in},
        {"sameas", t_sameas},
        {"lower", t_lower},
        {"upper", t_upper},
        {"escaped", t_escaped},
    };
    return table;
}

}  // namespace

bool filter_exists(const std::string& name) {
    return filters().count(name) != 0;
}
bool test_exists(const std::string& name) {
    return tests().count(name) != 0;
}

value interpreter::apply_filter(const std::string& name, const value& input, call_args& args) {
    auto it = filters().find(name);
    if (it == filters().end()) throw value_error{"no filter named '" + name + "'"};
    return it->second(*this, input, args);
}

bool interpreter::apply_test(const std::string& name, const value& input, call_args& args) {
    auto it = tests().find(name);
    if (it == tests().end()) throw value_error{"no test named '" + name + "'"};
    return it->second(*this, input, args);
}

}  // namespace tandem::jinja
