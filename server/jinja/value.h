// The dynamic value of the template interpreter and its Python-compatible operations:
// str()/repr() rendering, json.dumps, equality, ordering and truthiness as Jinja2 (on Python) has them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace tandem::jinja {

class interpreter;
struct value;

// Raised by value operations that lack a source position; the interpreter adds line/column.
struct value_error {
    std::string message;
};

struct undefined_t {
    bool operator==(const undefined_t&) const = default;
};
struct none_t {
    bool operator==(const none_t&) const = default;
};

// Containers cache their nesting depth so that building ever deeper values is caught in O(1):
// every recursive walk (repr, json, equality, destruction) is then bounded by k_max_value_depth.
constexpr uint32_t k_max_value_depth = 256;

struct value_list : std::vector<value> {
    using std::vector<value>::vector;
    uint32_t depth = 1;          // filled in when wrapped into a value
    bool has_namespace = false;  // some element is or contains a namespace() object
};

// Insertion-ordered string-keyed map (Python dicts keep insertion order). Indexed once it grows.
class value_map {
  public:
    const value* find(std::string_view key) const;
    value* find(std::string_view key);
    void set(std::string key, value v);
    size_t size() const;  // defined below `value` (clang instantiates in-class bodies eagerly)
    const std::vector<std::pair<std::string, value>>& entries() const { return entries_; }

    bool is_namespace = false;  // `namespace()` objects accept attribute assignment
    uint32_t depth = 1;
    bool has_namespace = false;

  private:
    std::vector<std::pair<std::string, value>> entries_;
    std::unordered_map<std::string, size_t> index_;  // built when entries_ exceeds a few items
};

struct call_args {
    std::vector<value> positional;
    std::vector<std::pair<std::string, value>> named;

    const value* get_named(std::string_view name) const;
};

// Builtin functions, bound methods and macros.
struct callable {
    virtual ~callable() = default;
    virtual value call(interpreter& in, call_args& args) = 0;
    std::string name;
};

using list_ptr = std::shared_ptr<value_list>;
using map_ptr = std::shared_ptr<value_map>;
using func_ptr = std::shared_ptr<callable>;

struct value {
    std::variant<undefined_t, none_t, bool, int64_t, double, std::string, list_ptr, map_ptr, func_ptr> v;

    value() = default;
    value(none_t n) : v(n) {}
    value(bool b) : v(b) {}
    value(int i) : v(int64_t{i}) {}
    value(int64_t i) : v(i) {}
    value(size_t i) : v(static_cast<int64_t>(i)) {}
    value(double d) : v(d) {}
    value(std::string s) : v(std::move(s)) {}
    value(std::string_view s) : v(std::string(s)) {}
    value(const char* s) : v(std::string(s)) {}
    value(value_list l);  // computes the nesting depth; throws value_error beyond k_max_value_depth
    value(map_ptr m) : v(std::move(m)) {}
    value(func_ptr f) : v(std::move(f)) {}

    bool is_undefined() const { return v.index() == 0; }
    bool is_none() const { return v.index() == 1; }
    bool is_bool() const { return v.index() == 2; }
    bool is_int() const { return v.index() == 3; }
    bool is_float() const { return v.index() == 4; }
    bool is_number() const { return is_bool() || is_int() || is_float(); }  // Python: bool is a Number
    bool is_string() const { return v.index() == 5; }
    bool is_list() const { return v.index() == 6; }
    bool is_map() const { return v.index() == 7; }
    bool is_func() const { return v.index() == 8; }

    bool as_bool() const { return std::get<bool>(v); }
    int64_t as_int() const { return std::get<int64_t>(v); }
    double as_float() const { return std::get<double>(v); }
    const std::string& str() const { return std::get<std::string>(v); }
    const value_list& list() const { return *std::get<list_ptr>(v); }
    const value_map& map() const { return *std::get<map_ptr>(v); }
    const map_ptr& map_handle() const { return std::get<map_ptr>(v); }
    const func_ptr& func() const { return std::get<func_ptr>(v); }

    uint32_t depth() const;
    bool has_namespace() const;

    // Integral view of bool/int (Python treats True as 1); throws value_error otherwise.
    int64_t to_int() const;
    double to_double() const;  // any number
};

value make_map();
value make_list(value_list items = {});

// Python's type name for error messages ("str", "int", "list", "dict", "NoneType", "Undefined").
std::string type_name(const value& v);

bool truthy(const value& v);
// Python str(): what `{{ v }}` prints. Undefined prints as "".
std::string to_str(const value& v);
// Python repr() (used inside containers).
void append_repr(std::string& out, const value& v);
// Python float repr: shortest round-trip, "1.0", "1e-05", "1e+16".
std::string format_float(double d);

struct json_dump_options {
    int indent = -1;  // < 0: single line with ", " and ": " separators (json.dumps default)
    bool sort_keys = false;
    std::string item_separator;  // empty: derived from indent as json.dumps does
    std::string key_separator;
};
// json.dumps(v, ensure_ascii=False, ...) as transformers' `tojson` filter calls it.
std::string to_json(const value& v, const json_dump_options& opt = {});

bool equals(const value& a, const value& b);
// Python ordering for <, <=, >, >=: numbers with numbers, strings with strings, lists lexicographically.
int compare(const value& a, const value& b);

// UTF-8 helpers (Python strings index code points).
size_t utf8_length(std::string_view s);
std::vector<std::string> utf8_chars(std::string_view s);
// Byte offset of code point `cp_index` (clamped to the end).
size_t utf8_offset(std::string_view s, size_t cp_index);

inline size_t value_map::size() const {
    return entries_.size();
}

}  // namespace tandem::jinja
