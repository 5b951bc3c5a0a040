// Template lexer: text runs, `{{ }}` / `{% %}` tags with their expression tokens; comments are dropped.
// Whitespace control follows jinja2/lexer.py: `-` strips all whitespace on that side, `+` disables
// lstrip_blocks/trim_blocks, trim_blocks eats one newline after a block or comment tag, lstrip_blocks
// removes spaces and tabs between the start of a line and a block or comment tag.
#include "server/jinja/lexer.h"

#include <algorithm>
#include <cstring>

#include "common/utf8.h"
#include "server/jinja/errors.h"

namespace tandem::jinja {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_ident(char c) {
    return is_ident_start(c) || is_digit(c);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

class lexer {
  public:
    lexer(std::string source, const lexer_options& opt) : src_(std::move(source)), opt_(opt) {
        line_starts_.push_back(0);
        for (size_t i = 0; i < src_.size(); ++i) {
            if (src_[i] == '\n') line_starts_.push_back(i + 1);
        }
    }

    std::vector<token> run() {
        bool line_starting = true;
        while (pos_ < src_.size()) {
            size_t open = find_open(pos_);
            std::string text = src_.substr(pos_, open - pos_);
            size_t text_pos = pos_;
            if (open == src_.size()) {
                push_text(std::move(text), text_pos);
                break;
            }
            char kind = src_[open + 1];  // '{', '%' or '#'
            char modifier = open + 2 < src_.size() ? src_[open + 2] : '\0';
            if (modifier == '-') {
                text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
            } else if (modifier != '+' && opt_.lstrip_blocks && kind != '{') {
                size_t l = text.rfind('\n');
                l = l == std::string::npos ? 0 : l + 1;
                bool only_ws = l < text.size() && std::all_of(text.begin() + static_cast<long>(l), text.end(),
                                                              [](char c) { return c == ' ' || c == '\t'; });
                if ((l > 0 || line_starting) && only_ws) text.resize(l);
            }
            push_text(std::move(text), text_pos);
            pos_ = open + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
            char close_mod = '\0';
            if (kind == '#') {
                close_mod = skip_comment(open);
            } else {
                close_mod = lex_tag(open, kind == '%');
            }
            bool block_like = kind != '{';
            if (close_mod == '-') {
                while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
            } else if (close_mod != '+' && block_like && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
                ++pos_;
            }
            line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
            if (kind == '%' && maybe_raw_block()) line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
        }
        token eof{token_kind::eof, "", 0, 0, 0, 0};
        locate(src_.size(), eof);
        tokens_.push_back(eof);
        return std::move(tokens_);
    }

  private:
    void locate(size_t offset, token& t) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
        size_t line = static_cast<size_t>(it - line_starts_.begin());
        t.line = static_cast<int>(line);
        t.column = static_cast<int>(offset - line_starts_[line - 1] + 1);
    }

    [[noreturn]] void fail(size_t offset, const std::string& what) const {
        token t{};
        locate(offset, t);
        throw_syntax_error(t.line, t.column, what);
    }

    void push(token_kind kind, std::string text, size_t offset) {
        token t{kind, std::move(text)};
        locate(offset, t);
        tokens_.push_back(std::move(t));
    }

    void push_text(std::string text, size_t offset) {
        if (!text.empty()) push(token_kind::text, std::move(text), offset);
    }

    size_t find_open(size_t from) const {
        for (size_t i = from; i + 1 < src_.size(); ++i) {
            if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
        }
        return src_.size();
    }

    // Returns the close modifier ('-', '+' or '\0'); pos_ ends after "#}".
    char skip_comment(size_t open) {
        size_t end = src_.find("#}", pos_);
        if (end == std::string::npos) fail(open, "unclosed comment");
        char mod = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : '\0';
        pos_ = end + 2;
        return mod;
    }

    // Lexes the expression tokens of a tag up to its close; returns the close modifier.
    char lex_tag(size_t open, bool is_stmt) {
        push(is_stmt ? token_kind::stmt_open : token_kind::expr_open, is_stmt ? "{%" : "{{", open);
        const char* close = is_stmt ? "%}" : "}}";
        int depth = 0;
        while (true) {
            while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
            if (pos_ >= src_.size()) fail(open, std::string("unclosed tag, expected '") + close + "'");
            if (depth == 0) {
                for (char mod : {'-', '+', '\0'}) {
                    size_t at = pos_ + (mod ? 1 : 0);
                    if (mod && src_[pos_] != mod) continue;
                    if (mod == '+' && !is_stmt) continue;
                    if (src_.compare(at, 2, close) == 0) {
                        push(is_stmt ? token_kind::stmt_close : token_kind::expr_close, close, pos_);
                        pos_ = at + 2;
                        return mod;
                    }
                }
            }
            lex_token(depth);
        }
    }

    void lex_token(int& depth) {
        size_t start = pos_;
        char c = src_[pos_];
        if (is_ident_start(c)) {
            while (pos_ < src_.size() && is_ident(src_[pos_])) ++pos_;
            push(token_kind::name, src_.substr(start, pos_ - start), start);
        } else if (is_digit(c)) {
            lex_number(start);
        } else if (c == '\'' || c == '"') {
            lex_string(start);
        } else {
            static const char* two_char[] = {"//", "**", "==", "!=", "<=", ">="};
            for (const char* op : two_char) {
                if (src_.compare(pos_, 2, op) == 0) {
                    pos_ += 2;
                    push(token_kind::op, op, start);
                    return;
                }
            }
            if (!std::strchr("+-*/%~<>=()[]{},.:|", c)) fail(start, std::string("unexpected character '") + c + "'");
            if (c == '(' || c == '[' || c == '{') ++depth;
            if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
            ++pos_;
            push(token_kind::op, std::string(1, c), start);
        }
    }

    void lex_number(size_t start) {
        auto digits = [&] {
            while (pos_ < src_.size() && (is_digit(src_[pos_]) || src_[pos_] == '_')) ++pos_;
        };
        digits();
        bool after_dot = !tokens_.empty() && tokens_.back().kind == token_kind::op && tokens_.back().text == ".";
        bool is_float = false;
        if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
            ++pos_;
            digits();
            is_float = true;
        }
        if (!after_dot && pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
            size_t save = pos_++;
            if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-')) ++pos_;
            if (pos_ < src_.size() && is_digit(src_[pos_])) {
                digits();
                is_float = true;
            } else {
                pos_ = save;
            }
        }
        std::string text;
        for (size_t i = start; i < pos_; ++i) {
            if (src_[i] != '_') text += src_[i];
        }
        token t{is_float ? token_kind::floating : token_kind::integer, text};
        locate(start, t);
        try {
            if (is_float)
                t.fval = std::stod(text);
            else
                t.ival = std::stoll(text);
        } catch (const std::exception&) {
            fail(start, "number literal out of range: " + text);
        }
        tokens_.push_back(std::move(t));
    }

    // Decodes a string literal with Python escapes (\n, \t, \xhh, \uXXXX, line continuation...).
    void lex_string(size_t start) {
        char quote = src_[pos_++];
        std::string out;
        while (true) {
            if (pos_ >= src_.size()) fail(start, "unterminated string literal");
            char c = src_[pos_++];
            if (c == quote) break;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= src_.size()) fail(start, "unterminated string literal");
            char e = src_[pos_++];
            switch (e) {
                case '\n':
                    break;  // line continuation
                case '\\':
                    out += '\\';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '"':
                    out += '"';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'v':
                    out += '\v';
                    break;
                case 'a':
                    out += '\a';
                    break;
                case 'x':
                    out += decode_hex(start, 2);
                    break;
                case 'u':
                    out += decode_hex(start, 4);
                    break;
                case 'U':
                    out += decode_hex(start, 8);
                    break;
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t cp = static_cast<uint32_t>(e - '0');
                        for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
                            cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
                        }
                        append_utf8(out, cp);
                    } else {
                        out += '\\';  // Python keeps unknown escapes verbatim
                        out += e;
                    }
            }
        }
        push(token_kind::string, std::move(out), start);
    }

    std::string decode_hex(size_t start, int n_digits) {
        uint32_t cp = 0;
        for (int i = 0; i < n_digits; ++i) {
            int h = pos_ < src_.size() ? hex_value(src_[pos_]) : -1;
            if (h < 0) fail(start, "truncated \\x/\\u escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(h);
            ++pos_;
        }
        if (cp > 0x10FFFF) fail(start, "invalid code point in string literal");
        std::string out;
        append_utf8(out, cp);
        return out;
    }

    // `{% raw %}...{% endraw %}`: everything up to the endraw tag is literal text.
    // Returns true if the tag just lexed was `{% raw %}` (its body has then been consumed).
    bool maybe_raw_block() {
        size_t n = tokens_.size();
        if (n < 3 || tokens_[n - 1].kind != token_kind::stmt_close || tokens_[n - 2].kind != token_kind::name ||
            tokens_[n - 2].text != "raw" || tokens_[n - 3].kind != token_kind::stmt_open) {
            return false;
        }
        token open_tok = tokens_[n - 3];
        tokens_.resize(n - 3);
        size_t search = pos_;
        while (true) {
            size_t open = src_.find("{%", search);
            if (open == std::string::npos) throw_syntax_error(open_tok.line, open_tok.column, "missing endraw");
            size_t p = open + 2;
            char mod = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p++] : '\0';
            while (p < src_.size() && is_space(src_[p])) ++p;
            if (src_.compare(p, 6, "endraw") != 0) {
                search = open + 2;
                continue;
            }
            p += 6;
            while (p < src_.size() && is_space(src_[p])) ++p;
            char close_mod = '\0';
            if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) close_mod = src_[p++];
            if (src_.compare(p, 2, "%}") != 0) {
                search = open + 2;
                continue;
            }
            std::string text = src_.substr(pos_, open - pos_);
            if (mod == '-') text.erase(std::find_if_not(text.rbegin(), text.rend(), is_space).base(), text.end());
            push_text(std::move(text), pos_);
            pos_ = p + 2;
            if (close_mod == '-') {
                while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
            } else if (close_mod != '+' && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
                ++pos_;
            }
            return true;
        }
    }

    std::string src_;
    lexer_options opt_;
    size_t pos_ = 0;
    std::vector<size_t> line_starts_;
    std::vector<token> tokens_;
};

std::string normalize_newlines(std::string_view source, bool keep_trailing_newline) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

std::vector<token> lex(std::string_view source, const lexer_options& opt) {
    lexer lx(normalize_newlines(source, opt.keep_trailing_newline), opt);
    return lx.run();
}

}  // namespace tandem::jinja
