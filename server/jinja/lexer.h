// Splits template source into text and tag tokens, applying Jinja2 whitespace control
// (`{%-`, `-%}`, `+%}`...) with trim_blocks and lstrip_blocks on, as transformers renders chat templates.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::jinja {

enum class token_kind {
    text,        // literal template text (already whitespace-trimmed)
    expr_open,   // {{
    expr_close,  // }}
    stmt_open,   // {%
    stmt_close,  // %}
    name,
    string,  // value holds the decoded string
    integer,
    floating,
    op,  // punctuation and operators: + - * / // % ** ~ == != < <= > >= = ( ) [ ] { } , . : |
    eof,
};

struct token {
    token_kind kind;
    std::string text;  // text / name / decoded string / operator
    int64_t ival = 0;
    double fval = 0;
    int line = 1;
    int column = 1;
};

struct lexer_options {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
    bool keep_trailing_newline = false;
};

// Throws tandem::error "chat template syntax error at line L, column C: ..." on malformed input.
std::vector<token> lex(std::string_view source, const lexer_options& opt = {});

}  // namespace tandem::jinja
