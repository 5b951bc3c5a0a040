// Error construction shared by lexer, parser and interpreter: every message names line and column.
#pragma once

#include <string>

#include "common/error.h"

namespace tandem::jinja {

[[noreturn]] inline void throw_syntax_error(int line, int column, const std::string& what) {
    throw tandem::error("chat template syntax error at line " + std::to_string(line) + ", column " +
                        std::to_string(column) + ": " + what);
}

[[noreturn]] inline void throw_render_error(int line, int column, const std::string& what) {
    throw tandem::error("chat template error at line " + std::to_string(line) + ", column " + std::to_string(column) +
                        ": " + what);
}

}  // namespace tandem::jinja
