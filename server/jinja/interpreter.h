// Tree-walking evaluator of a parsed template. One interpreter renders one request; it owns the
// scopes, the output buffers and the resource budget that keeps hostile templates bounded.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/jinja/ast.h"
#include "server/jinja/template.h"
#include "server/jinja/value.h"

namespace tandem::jinja {

using scope = std::unordered_map<std::string, value>;

class interpreter {
  public:
    explicit interpreter(const render_options& opt);

    // Renders `body` with `root` as the template's top-level scope (the context variables).
    std::string render(const stmt_list& body, scope root);

    // Used by builtins.
    value call(const value& fn, call_args& args, const expr* at);
    value apply_filter(const std::string& name, const value& input, call_args& args);
    bool apply_test(const std::string& name, const value& input, call_args& args);
    void charge(size_t units);                // spends the work budget; throws when exhausted
    void check_string(size_t n_bytes) const;  // strings larger than the output limit are errors
    const render_options& options() const { return opt_; }

    // Runs a macro body with its parameters bound (called by macro values).
    value invoke_macro(const stmt& macro, call_args& args, const std::vector<scope*>& closure, value caller);

  private:
    enum class flow { normal, break_, continue_ };

    flow exec_list(const stmt_list& body);
    flow exec(const stmt& s);
    flow exec_for(const stmt& s);
    void exec_set(const stmt& s);
    void exec_macro_def(const stmt& s);
    void exec_call_block(const stmt& s);
    std::string capture(const stmt_list& body);

    value eval(const expr& e);
    value look_into(const expr& e, bool item);  // x.y (item false) or x[k] (item true)
    value eval_binary(const expr& e);
    value eval_attr(const expr& e);
    value eval_item(const expr& e);
    value eval_slice(const expr& e);
    value eval_call(const expr& e);
    value eval_filter(const expr& e);
    bool eval_test(const expr& e);
    call_args eval_args(const expr& e, size_t first);

    value lookup(const std::string& name) const;
    void assign(const std::string& name, value v);
    void write(std::string_view text);

    render_options opt_;
    std::vector<scope*> scopes_;  // innermost last; scopes_[0] is the template root
    std::string* out_ = nullptr;  // current output buffer (macros and block sets capture)
    size_t n_work_ = 0;
    size_t n_iterations_ = 0;
    int depth_ = 0;     // macro call / capture nesting
    int n_frames_ = 0;  // live exec()/eval() frames: bounds C++ stack use
    scope globals_;     // builtin functions: range, namespace, raise_exception...
};

// Attribute access as Jinja does it: dict keys, bound methods of str/dict/list, namespace fields.
value get_attr(interpreter& in, const value& obj, const std::string& name);
// Item access: dict[key], list[int], str[int]; missing -> undefined.
value get_item(const value& obj, const value& key);
// Python-style slicing of lists and strings (by code point).
value slice_value(const value& obj, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step);
// Items a `for` loop visits: list elements, dict keys, string characters; undefined -> none.
value_list iterate(const value& v);
// Builtin global functions (range, namespace, dict, raise_exception, strftime_now, ...).
scope make_globals();

}  // namespace tandem::jinja
