// Python-compatible semantics of template values: rendering, JSON, equality, ordering, truthiness.
#include "server/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace tandem::jinja {

namespace {

constexpr size_t k_index_threshold = 16;

}  // namespace

const value* value_map::find(std::string_view key) const {
    if (!index_.empty()) {
        auto it = index_.find(std::string(key));
        return it == index_.end() ? nullptr : &entries_[it->second].second;
    }
    for (const auto& [k, v] : entries_) {
        if (k == key) return &v;
    }
    return nullptr;
}

value* value_map::find(std::string_view key) {
    return const_cast<value*>(static_cast<const value_map*>(this)->find(key));
}

void value_map::set(std::string key, value v) {
    uint32_t d = v.depth() + 1;
    if (d > k_max_value_depth) throw value_error{"value nested too deeply"};
    depth = std::max(depth, d);
    has_namespace |= v.has_namespace();
    if (value* existing = find(key)) {
        *existing = std::move(v);
        return;
    }
    entries_.emplace_back(std::move(key), std::move(v));
    if (!index_.empty()) {
        index_.emplace(entries_.back().first, entries_.size() - 1);
    } else if (entries_.size() > k_index_threshold) {
        for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
    }
}

const value* call_args::get_named(std::string_view name) const {
    for (const auto& [k, v] : named) {
        if (k == name) return &v;
    }
    return nullptr;
}

value::value(value_list l) {
    uint32_t d = 0;
    bool ns = false;
    for (const auto& item : l) {
        d = std::max(d, item.depth());
        ns |= item.has_namespace();
    }
    if (d + 1 > k_max_value_depth) throw value_error{"value nested too deeply"};
    l.depth = d + 1;
    l.has_namespace = ns;
    v = std::make_shared<value_list>(std::move(l));
}

uint32_t value::depth() const {
    if (is_list()) return list().depth;
    if (is_map()) return map().depth;
    return 0;
}

bool value::has_namespace() const {
    if (is_list()) return list().has_namespace;
    if (is_map()) return map().is_namespace || map().has_namespace;
    return false;
}

int64_t value::to_int() const {
    if (is_bool()) return as_bool() ? 1 : 0;
    if (is_int()) return as_int();
    throw value_error{"expected an integer, got " + type_name(*this)};
}

double value::to_double() const {
    if (is_float()) return as_float();
    if (is_bool() || is_int()) return static_cast<double>(to_int());
    throw value_error{"expected a number, got " + type_name(*this)};
}

value make_map() {
    return value(std::make_shared<value_map>());
}
value make_list(value_list items) {
    return value(std::move(items));
}

std::string type_name(const value& v) {
    switch (v.v.index()) {
        case 0:
            return "Undefined";
        case 1:
            return "NoneType";
        case 2:
            return "bool";
        case 3:
            return "int";
        case 4:
            return "float";
        case 5:
            return "str";
        case 6:
            return "list";
        case 7:
            return v.map().is_namespace ? "Namespace" : "dict";
        default:
            return "function";
    }
}

bool truthy(const value& v) {
    switch (v.v.index()) {
        case 0:
        case 1:
            return false;
        case 2:
            return v.as_bool();
        case 3:
            return v.as_int() != 0;
        case 4:
            return v.as_float() != 0.0;
        case 5:
            return !v.str().empty();
        case 6:
            return !v.list().empty();
        case 7:
            return v.map().size() != 0;
        default:
            return true;
    }
}

std::string format_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    // sci = [-]D[.DDD]e(+|-)XX
    size_t e = sci.find('e');
    int exp10 = std::stoi(sci.substr(e + 1));
    if (exp10 < -4 || exp10 >= 16) return sci;  // Python repr switches to exponent form here
    bool neg = sci[0] == '-';
    std::string digits;
    for (size_t i = neg ? 1 : 0; i < e; ++i) {
        if (sci[i] != '.') digits += sci[i];
    }
    std::string out = neg ? "-" : "";
    int n_int = exp10 + 1;  // digits before the decimal point
    if (n_int <= 0) {
        out += "0." + std::string(static_cast<size_t>(-n_int), '0') + digits;
    } else if (static_cast<size_t>(n_int) >= digits.size()) {
        out += digits + std::string(static_cast<size_t>(n_int) - digits.size(), '0') + ".0";
    } else {
        out += digits.substr(0, static_cast<size_t>(n_int)) + "." + digits.substr(static_cast<size_t>(n_int));
    }
    return out;
}

namespace {

void append_string_repr(std::string& out, const std::string& s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char quote = (has_single && !has_double) ? '"' : '\'';
    out += quote;
    for (unsigned char c : s) {
        if (c == static_cast<unsigned char>(quote) || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += quote;
}

void append_json_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

void append_json(std::string& out, const value& v, const json_dump_options& opt, const std::string& item_sep,
                 const std::string& key_sep, int depth) {
    if (depth > 512) throw value_error{"tojson: value nested too deeply"};
    auto newline = [&](int level) {
        if (opt.indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(opt.indent) * static_cast<size_t>(level), ' ');
    };
    switch (v.v.index()) {
        case 0:
            throw value_error{"Object of type Undefined is not JSON serializable"};
        case 1:
            out += "null";
            return;
        case 2:
            out += v.as_bool() ? "true" : "false";
            return;
        case 3:
            out += std::to_string(v.as_int());
            return;
        case 4: {
            double d = v.as_float();
            if (std::isnan(d))
                out += "NaN";
            else if (std::isinf(d))
                out += d > 0 ? "Infinity" : "-Infinity";
            else
                out += format_float(d);
            return;
        }
        case 5:
            append_json_string(out, v.str());
            return;
        case 6: {
            const auto& l = v.list();
            if (l.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < l.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                append_json(out, l[i], opt, item_sep, key_sep, depth + 1);
            }
            newline(depth);
            out += ']';
            return;
        }
        case 7: {
            std::vector<const std::pair<std::string, value>*> items;
            for (const auto& e : v.map().entries()) items.push_back(&e);
            if (opt.sort_keys) {
                std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
            }
            if (items.empty()) {
                out += "{}";
                return;
            }
            out += '{';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                append_json_string(out, items[i]->first);
                out += key_sep;
                append_json(out, items[i]->second, opt, item_sep, key_sep, depth + 1);
            }
            newline(depth);
            out += '}';
            return;
        }
        default:
            throw value_error{"Object of type function is not JSON serializable"};
    }
}

}  // namespace

void append_repr(std::string& out, const value& v) {
    switch (v.v.index()) {
        case 5:
            append_string_repr(out, v.str());
            return;
        case 6: {
            out += '[';
            bool first = true;
            for (const auto& item : v.list()) {
                if (!first) out += ", ";
                first = false;
                append_repr(out, item);
            }
            out += ']';
            return;
        }
        case 7: {
            out += v.map().is_namespace ? "<Namespace {" : "{";
            bool first = true;
            for (const auto& [k, item] : v.map().entries()) {
                if (!first) out += ", ";
                first = false;
                append_string_repr(out, k);
                out += ": ";
                append_repr(out, item);
            }
            out += v.map().is_namespace ? "}>" : "}";
            return;
        }
        default:
            out += to_str(v);
    }
}

std::string to_str(const value& v) {
    switch (v.v.index()) {
        case 0:
            return "";
        case 1:
            return "None";
        case 2:
            return v.as_bool() ? "True" : "False";
        case 3:
            return std::to_string(v.as_int());
        case 4:
            return format_float(v.as_float());
        case 5:
            return v.str();
        case 6:
        case 7: {
            std::string out;
            append_repr(out, v);
            return out;
        }
        default:
            return "<function " + v.func()->name + ">";
    }
}

std::string to_json(const value& v, const json_dump_options& opt) {
    std::string item_sep = opt.item_separator.empty() ? (opt.indent < 0 ? ", " : ",") : opt.item_separator;
    std::string key_sep = opt.key_separator.empty() ? ": " : opt.key_separator;
    std::string out;
    append_json(out, v, opt, item_sep, key_sep, 0);
    return out;
}

bool equals(const value& a, const value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.to_double() == b.to_double();
        return a.to_int() == b.to_int();
    }
    if (a.v.index() != b.v.index()) return false;
    switch (a.v.index()) {
        case 0:
        case 1:
            return true;
        case 5:
            return a.str() == b.str();
        case 6: {
            const auto& x = a.list();
            const auto& y = b.list();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i) {
                if (!equals(x[i], y[i])) return false;
            }
            return true;
        }
        case 7: {
            if (a.map_handle() == b.map_handle()) return true;
            if (a.map().size() != b.map().size()) return false;
            for (const auto& [k, item] : a.map().entries()) {
                const value* other = b.map().find(k);
                if (!other || !equals(item, *other)) return false;
            }
            return true;
        }
        default:
            return a.func() == b.func();
    }
}

int compare(const value& a, const value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            double x = a.to_double(), y = b.to_double();
            return x < y ? -1 : (x > y ? 1 : 0);
        }
        int64_t x = a.to_int(), y = b.to_int();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.is_string() && b.is_string()) {
        int c = a.str().compare(b.str());  // UTF-8 byte order equals code point order
        return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (a.is_list() && b.is_list()) {
        const auto& x = a.list();
        const auto& y = b.list();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return compare(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    throw value_error{"'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'"};
}

size_t utf8_length(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

std::vector<std::string> utf8_chars(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = i + 1;
        while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
        out.emplace_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

size_t utf8_offset(std::string_view s, size_t cp_index) {
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (n == cp_index) return i;
            ++n;
        }
    }
    return s.size();
}

}  // namespace tandem::jinja
