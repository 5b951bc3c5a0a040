// Recursive-descent parser from tokens to the statement tree, with Jinja2's operator precedence.
#pragma once

#include <vector>

#include "server/jinja/ast.h"
#include "server/jinja/lexer.h"

namespace tandem::jinja {

// Throws tandem::error with line/column on syntax errors, unknown filters/tests, nesting too deep.
stmt_list parse(const std::vector<token>& tokens);

// True if `name` is a filter / test the interpreter implements (the parser rejects others).
bool filter_exists(const std::string& name);
bool test_exists(const std::string& name);

}  // namespace tandem::jinja
