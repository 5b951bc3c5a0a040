// Syntax tree of a parsed template: expressions and statements, each with its source position.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "server/jinja/value.h"

namespace tandem::jinja {

struct expr;
struct stmt;
using expr_ptr = std::unique_ptr<expr>;
using stmt_ptr = std::unique_ptr<stmt>;
using stmt_list = std::vector<stmt_ptr>;

enum class expr_kind {
    literal,  // lit
    name,     // name
    list,     // args = items
    tuple,    // args = items (evaluates to a list)
    dict,     // args = alternating key, value
    attr,     // args[0].name
    item,     // args[0][args[1]]
    slice,    // args[0][args[1]:args[2]:args[3]]; missing parts are nullptr
    call,     // args[0](args[1..], kwargs)
    filter,   // args[0] | name(args[1..], kwargs)
    test,     // args[0] is [not] name(args[1..]); negated
    unary,    // name in {"not", "-", "+"}; args[0]
    binary,   // name is the operator; args[0], args[1]
    cond,     // args[1] if args[0] else args[2] (args[2] may be nullptr: undefined)
};

struct expr {
    expr_kind kind;
    int line = 0;
    int column = 0;
    value lit;
    std::string name;
    std::vector<expr_ptr> args;
    std::vector<std::pair<std::string, expr_ptr>> kwargs;
    bool negated = false;
    int height = 1;  // longest path to a leaf; the parser bounds it so evaluation cannot overflow the stack
};

enum class stmt_kind {
    text,          // text
    output,        // {{ value }}
    if_,           // branches
    for_,          // targets in value [if cond]: body / else_body
    set,           // targets (or ns_target.attr) = value
    set_block,     // {% set targets[0] %}body{% endset %} | filters (value_filter chain applied to body)
    macro,         // name(params) body
    call_block,    // {% call(params) value %}body{% endcall %}
    filter_block,  // {% filter f %}body{% endfilter %}: value is a filter chain over a placeholder
    with,          // {% with a = x %}body{% endwith %}
    break_,
    continue_,
    scope,  // transparent block: {% generation %}...{% endgeneration %}
};

struct macro_param {
    std::string name;
    expr_ptr default_value;  // nullptr: required (missing -> undefined)
};

struct if_branch {
    expr_ptr condition;  // nullptr for else
    stmt_list body;
};

struct stmt {
    stmt_kind kind;
    int line = 0;
    int column = 0;
    std::string text;                  // text / macro name / namespace variable of `set ns.attr`
    std::string attr;                  // attribute of `set ns.attr`
    std::vector<std::string> targets;  // for / set targets
    expr_ptr value;                    // output / for iterable / set value / call target / filter chain
    expr_ptr condition;                // for ... if condition
    std::vector<if_branch> branches;
    std::vector<macro_param> params;                            // macro / call-block parameters
    std::vector<std::pair<std::string, expr_ptr>> assignments;  // with
    stmt_list body;
    stmt_list else_body;
};

}  // namespace tandem::jinja
