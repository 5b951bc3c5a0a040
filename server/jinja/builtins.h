// Builtin operations of the interpreter: operators, methods of str/dict/list, filters, tests and
// global functions, each with the Python/Jinja2 semantics chat templates rely on.
#pragma once

#include <optional>
#include <string>

#include "server/jinja/interpreter.h"
#include "server/jinja/value.h"

namespace tandem::jinja {

// Arithmetic on defined operands: + - * / // % ** (str % args formats printf-style).
value binary_op(interpreter& in, const std::string& op, const value& l, const value& r);
value unary_op(const std::string& op, const value& v);
// Python `item in container`.
bool contains(const value& container, const value& item);

// Calls method `name` of a str / dict / list receiver; nullopt if the receiver has no such method.
std::optional<value> call_method(interpreter& in, const value& obj, const std::string& name, call_args& args);
bool has_method(const value& obj, const std::string& name);

// Python `fmt % args` (%s %r %d %i %f %x %%).
std::string percent_format(const std::string& fmt, const value& args);

// Python whitespace (str.strip() without arguments strips Unicode whitespace).
std::string py_strip(const std::string& s, const value* chars, bool left, bool right);

}  // namespace tandem::jinja
