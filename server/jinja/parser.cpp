// Recursive-descent parser. Precedence follows jinja2/parser.py: conditional < or < and < not <
// comparisons/in < + - < ~ < * / // % < ** < unary - + < postfix (. [] ()) and filters/tests.
#include "server/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "server/jinja/errors.h"

namespace tandem::jinja {

namespace {

constexpr int k_max_nesting = 64;  // recursive-descent depth (blocks, parentheses)
constexpr int k_max_height = 64;   // expression tree height (long operator chains)

class parser {
  public:
    explicit parser(const std::vector<token>& tokens) : toks_(tokens) {}

    stmt_list parse_template() {
        std::string end;
        stmt_list body = parse_body({}, end);
        return body;
    }

  private:
    // --- token helpers -------------------------------------------------------------------------
    const token& cur() const { return toks_[pos_]; }
    const token& peek(size_t ahead = 1) const { return toks_[std::min(pos_ + ahead, toks_.size() - 1)]; }
    const token& advance() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }

    bool is_op(const char* op, size_t ahead = 0) const {
        const token& t = peek(ahead);
        return t.kind == token_kind::op && t.text == op;
    }
    bool is_name(const char* name, size_t ahead = 0) const {
        const token& t = peek(ahead);
        return t.kind == token_kind::name && t.text == name;
    }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        advance();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        advance();
        return true;
    }

    [[noreturn]] void fail(const token& at, const std::string& what) const {
        throw_syntax_error(at.line, at.column, what);
    }

    static std::string describe(const token& t) {
        switch (t.kind) {
            case token_kind::eof:
                return "end of template";
            case token_kind::text:
                return "template text";
            case token_kind::expr_open:
                return "'{{'";
            case token_kind::expr_close:
                return "'}}'";
            case token_kind::stmt_open:
                return "'{%'";
            case token_kind::stmt_close:
                return "'%}'";
            case token_kind::string:
                return "string literal";
            default:
                return "'" + t.text + "'";
        }
    }

    void expect_op(const char* op) {
        if (!skip_op(op)) fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    }
    void expect(token_kind kind, const char* what) {
        if (cur().kind != kind) fail(cur(), std::string("expected ") + what + ", got " + describe(cur()));
        advance();
    }
    std::string expect_name() {
        if (cur().kind != token_kind::name) fail(cur(), "expected a name, got " + describe(cur()));
        return advance().text;
    }

    expr_ptr node(expr_kind kind, const token& at) {
        auto e = std::make_unique<expr>();
        e->kind = kind;
        e->line = at.line;
        e->column = at.column;
        return e;
    }
    expr_ptr seal(expr_ptr e) {
        int h = 0;
        for (const auto& a : e->args) {
            if (a) h = std::max(h, a->height);
        }
        for (const auto& kv : e->kwargs) h = std::max(h, kv.second->height);
        e->height = h + 1;
        if (e->height > k_max_height) throw_syntax_error(e->line, e->column, "expression nested too deeply");
        return e;
    }
    stmt_ptr snode(stmt_kind kind, const token& at) {
        auto s = std::make_unique<stmt>();
        s->kind = kind;
        s->line = at.line;
        s->column = at.column;
        return s;
    }

    struct depth_guard {
        parser& p;
        depth_guard(parser& parent, const token& at) : p(parent) {
            if (++p.depth_ > k_max_nesting) p.fail(at, "template nested too deeply");
        }
        ~depth_guard() { --p.depth_; }
    };

    // --- statements ----------------------------------------------------------------------------
    // Parses until a `{% name %}` with name in `ends`; leaves pos_ after that name.
    stmt_list parse_body(std::initializer_list<const char*> ends, std::string& end_found) {
        depth_guard guard(*this, cur());
        stmt_list out;
        while (true) {
            const token& t = cur();
            if (t.kind == token_kind::eof) {
                if (ends.size() == 0) return out;
                fail(t, std::string("unexpected end of template, expected '") + *(ends.end() - 1) + "'");
            }
            if (t.kind == token_kind::text) {
                auto s = snode(stmt_kind::text, t);
                s->text = t.text;
                out.push_back(std::move(s));
                advance();
            } else if (t.kind == token_kind::expr_open) {
                advance();
                auto s = snode(stmt_kind::output, t);
                s->value = parse_tuple_expr();
                expect(token_kind::expr_close, "'}}'");
                out.push_back(std::move(s));
            } else if (t.kind == token_kind::stmt_open) {
                const token& kw = peek();
                if (kw.kind != token_kind::name) fail(kw, "expected a statement name, got " + describe(kw));
                for (const char* e : ends) {
                    if (kw.text == e) {
                        advance();
                        advance();
                        end_found = e;
                        return out;
                    }
                }
                advance();
                out.push_back(parse_statement());
            } else {
                fail(t, "unexpected " + describe(t));
            }
        }
    }

    void end_tag() { expect(token_kind::stmt_close, "'%}'"); }

    stmt_ptr parse_statement() {
        const token& kw = advance();
        const std::string& k = kw.text;
        if (k == "if") return parse_if(kw);
        if (k == "for") return parse_for(kw);
        if (k == "set") return parse_set(kw);
        if (k == "macro") return parse_macro(kw);
        if (k == "call") return parse_call_block(kw);
        if (k == "filter") return parse_filter_block(kw);
        if (k == "with") return parse_with(kw);
        if (k == "generation") return parse_scope(kw, "endgeneration");
        if (k == "break" || k == "continue") {
            if (loop_depth_ == 0) fail(kw, "'" + k + "' outside of a loop");
            end_tag();
            return snode(k == "break" ? stmt_kind::break_ : stmt_kind::continue_, kw);
        }
        fail(kw, "unknown tag '" + k + "'");
    }

    stmt_ptr parse_if(const token& kw) {
        auto s = snode(stmt_kind::if_, kw);
        expr_ptr cond = parse_expr();
        while (true) {
            end_tag();
            std::string end;
            stmt_list body = parse_body({"elif", "else", "endif"}, end);
            s->branches.push_back({std::move(cond), std::move(body)});
            if (end == "endif") break;
            if (end == "elif") {
                cond = parse_expr();
                continue;
            }
            end_tag();
            std::string end2;
            stmt_list else_body = parse_body({"endif"}, end2);
            s->branches.push_back({nullptr, std::move(else_body)});
            break;
        }
        end_tag();
        return s;
    }

    std::vector<std::string> parse_targets() {
        std::vector<std::string> names;
        bool paren = skip_op("(");
        names.push_back(expect_name());
        while (skip_op(",")) names.push_back(expect_name());
        if (paren) expect_op(")");
        return names;
    }

    stmt_ptr parse_for(const token& kw) {
        auto s = snode(stmt_kind::for_, kw);
        s->targets = parse_targets();
        if (!skip_name("in")) fail(cur(), "expected 'in' in for loop, got " + describe(cur()));
        s->value = parse_expr(false);
        if (skip_name("if")) s->condition = parse_expr();
        if (is_name("recursive")) fail(cur(), "recursive for loops are not supported");
        end_tag();
        std::string end;
        ++loop_depth_;
        s->body = parse_body({"else", "endfor"}, end);
        --loop_depth_;
        if (end == "else") {
            end_tag();
            s->else_body = parse_body({"endfor"}, end);
        }
        end_tag();
        return s;
    }

    stmt_ptr parse_set(const token& kw) {
        if (cur().kind == token_kind::name && is_op(".", 1)) {
            auto s = snode(stmt_kind::set, kw);
            s->text = advance().text;
            advance();
            s->attr = expect_name();
            expect_op("=");
            s->value = parse_tuple_expr();
            end_tag();
            return s;
        }
        std::vector<std::string> targets = parse_targets();
        if (skip_op("=")) {
            auto s = snode(stmt_kind::set, kw);
            s->targets = std::move(targets);
            s->value = parse_tuple_expr();
            end_tag();
            return s;
        }
        auto s = snode(stmt_kind::set_block, kw);
        if (targets.size() != 1) fail(kw, "block set takes a single name");
        s->targets = std::move(targets);
        if (is_op("|")) s->value = parse_filter_chain(kw);
        end_tag();
        std::string end;
        s->body = parse_body({"endset"}, end);
        end_tag();
        return s;
    }

    // `| f(args) | g` applied to the placeholder name "\x01" (the block's rendered body).
    expr_ptr parse_filter_chain(const token& at) {
        expr_ptr e = node(expr_kind::name, at);
        e->name = "\x01";
        while (is_op("|")) e = parse_filter(std::move(e));
        return e;
    }

    std::vector<macro_param> parse_params() {
        std::vector<macro_param> params;
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            macro_param p;
            p.name = expect_name();
            if (skip_op("=")) p.default_value = parse_expr();
            params.push_back(std::move(p));
        }
        expect_op(")");
        return params;
    }

    stmt_ptr parse_macro(const token& kw) {
        auto s = snode(stmt_kind::macro, kw);
        s->text = expect_name();
        s->params = parse_params();
        end_tag();
        std::string end;
        int saved_loops = loop_depth_;
        loop_depth_ = 0;
        s->body = parse_body({"endmacro"}, end);
        loop_depth_ = saved_loops;
        if (cur().kind == token_kind::name) advance();  // optional `{% endmacro name %}`
        end_tag();
        return s;
    }

    stmt_ptr parse_call_block(const token& kw) {
        auto s = snode(stmt_kind::call_block, kw);
        if (is_op("(")) s->params = parse_params();
        s->value = parse_expr();
        if (s->value->kind != expr_kind::call) fail(kw, "expected a macro call in call block");
        end_tag();
        std::string end;
        s->body = parse_body({"endcall"}, end);
        end_tag();
        return s;
    }

    stmt_ptr parse_filter_block(const token& kw) {
        auto s = snode(stmt_kind::filter_block, kw);
        expr_ptr e = node(expr_kind::name, kw);
        e->name = "\x01";
        e = parse_filter(std::move(e), false);
        while (is_op("|")) e = parse_filter(std::move(e));
        s->value = std::move(e);
        end_tag();
        std::string end;
        s->body = parse_body({"endfilter"}, end);
        end_tag();
        return s;
    }

    stmt_ptr parse_with(const token& kw) {
        auto s = snode(stmt_kind::with, kw);
        while (cur().kind == token_kind::name) {
            std::string name = expect_name();
            expect_op("=");
            s->assignments.emplace_back(std::move(name), parse_expr());
            if (!skip_op(",")) break;
        }
        end_tag();
        std::string end;
        s->body = parse_body({"endwith"}, end);
        end_tag();
        return s;
    }

    stmt_ptr parse_scope(const token& kw, const char* end_name) {
        auto s = snode(stmt_kind::scope, kw);
        end_tag();
        std::string end;
        s->body = parse_body({end_name}, end);
        end_tag();
        return s;
    }

    // --- expressions ---------------------------------------------------------------------------
    // An expression, or a bare tuple `a, b` (as in `{% set a = 1, 2 %}`).
    expr_ptr parse_tuple_expr() {
        const token& at = cur();
        expr_ptr first = parse_expr();
        if (!is_op(",")) return first;
        auto t = node(expr_kind::tuple, at);
        t->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (cur().kind == token_kind::stmt_close || cur().kind == token_kind::expr_close) break;
            t->args.push_back(parse_expr());
        }
        return seal(std::move(t));
    }

    expr_ptr parse_expr(bool with_condition = true) {
        depth_guard guard(*this, cur());
        const token& at = cur();
        expr_ptr e = parse_or();
        while (with_condition && is_name("if")) {
            advance();
            auto c = node(expr_kind::cond, at);
            c->args.push_back(parse_or());
            c->args.push_back(std::move(e));
            c->args.push_back(skip_name("else") ? parse_expr() : nullptr);
            e = seal(std::move(c));
        }
        return e;
    }

    expr_ptr binary(const token& at, std::string op, expr_ptr l, expr_ptr r) {
        auto b = node(expr_kind::binary, at);
        b->name = std::move(op);
        b->args.push_back(std::move(l));
        b->args.push_back(std::move(r));
        return seal(std::move(b));
    }

    expr_ptr parse_or() {
        expr_ptr e = parse_and();
        while (is_name("or")) {
            const token& at = advance();
            e = binary(at, "or", std::move(e), parse_and());
        }
        return e;
    }

    expr_ptr parse_and() {
        expr_ptr e = parse_not();
        while (is_name("and")) {
            const token& at = advance();
            e = binary(at, "and", std::move(e), parse_not());
        }
        return e;
    }

    expr_ptr parse_not() {
        if (is_name("not")) {
            depth_guard guard(*this, cur());
            const token& at = advance();
            auto u = node(expr_kind::unary, at);
            u->name = "not";
            u->args.push_back(parse_not());
            return seal(std::move(u));
        }
        return parse_compare();
    }

    expr_ptr parse_compare() {
        expr_ptr e = parse_math1();
        while (true) {
            const token& at = cur();
            if (at.kind == token_kind::op && (at.text == "==" || at.text == "!=" || at.text == "<" || at.text == "<=" ||
                                              at.text == ">" || at.text == ">=")) {
                advance();
                e = binary(at, at.text, std::move(e), parse_math1());
            } else if (is_name("in")) {
                advance();
                e = binary(at, "in", std::move(e), parse_math1());
            } else if (is_name("not") && is_name("in", 1)) {
                advance();
                advance();
                e = binary(at, "not in", std::move(e), parse_math1());
            } else {
                return e;
            }
        }
    }

    expr_ptr parse_math1() {
        expr_ptr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            const token& at = advance();
            e = binary(at, at.text, std::move(e), parse_concat());
        }
        return e;
    }

    expr_ptr parse_concat() {
        expr_ptr e = parse_math2();
        while (is_op("~")) {
            const token& at = advance();
            e = binary(at, "~", std::move(e), parse_math2());
        }
        return e;
    }

    expr_ptr parse_math2() {
        expr_ptr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const token& at = advance();
            e = binary(at, at.text, std::move(e), parse_pow());
        }
        return e;
    }

    expr_ptr parse_pow() {
        expr_ptr e = parse_unary(true);
        while (is_op("**")) {
            const token& at = advance();
            e = binary(at, "**", std::move(e), parse_unary(true));
        }
        return e;
    }

    expr_ptr parse_unary(bool with_filter) {
        depth_guard guard(*this, cur());
        const token& at = cur();
        expr_ptr e;
        if (is_op("-") || is_op("+")) {
            advance();
            e = node(expr_kind::unary, at);
            e->name = at.text;
            e->args.push_back(parse_unary(false));
            e = seal(std::move(e));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filter_tail(std::move(e));
        return e;
    }

    expr_ptr parse_primary() {
        const token& t = cur();
        switch (t.kind) {
            case token_kind::name: {
                advance();
                auto e = node(expr_kind::literal, t);
                if (t.text == "true" || t.text == "True")
                    e->lit = value(true);
                else if (t.text == "false" || t.text == "False")
                    e->lit = value(false);
                else if (t.text == "none" || t.text == "None")
                    e->lit = value(none_t{});
                else {
                    e->kind = expr_kind::name;
                    e->name = t.text;
                }
                return e;
            }
            case token_kind::string: {
                std::string s;
                while (cur().kind == token_kind::string) s += advance().text;  // adjacent literals join
                auto e = node(expr_kind::literal, t);
                e->lit = value(std::move(s));
                return e;
            }
            case token_kind::integer: {
                advance();
                auto e = node(expr_kind::literal, t);
                e->lit = value(t.ival);
                return e;
            }
            case token_kind::floating: {
                advance();
                auto e = node(expr_kind::literal, t);
                e->lit = value(t.fval);
                return e;
            }
            case token_kind::op:
                if (t.text == "(") return parse_paren();
                if (t.text == "[") return parse_list();
                if (t.text == "{") return parse_dict();
                [[fallthrough]];
            default:
                fail(t, "unexpected " + describe(t));
        }
    }

    expr_ptr parse_paren() {
        const token& at = advance();
        if (skip_op(")")) return node(expr_kind::tuple, at);
        expr_ptr first = parse_expr();
        if (skip_op(")")) return first;
        auto t = node(expr_kind::tuple, at);
        t->args.push_back(std::move(first));
        while (skip_op(",")) {
            if (is_op(")")) break;
            t->args.push_back(parse_expr());
        }
        expect_op(")");
        return seal(std::move(t));
    }

    expr_ptr parse_list() {
        auto e = node(expr_kind::list, advance());
        while (!is_op("]")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("]")) break;
            e->args.push_back(parse_expr());
        }
        expect_op("]");
        return seal(std::move(e));
    }

    expr_ptr parse_dict() {
        auto e = node(expr_kind::dict, advance());
        while (!is_op("}")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("}")) break;
            e->args.push_back(parse_expr());
            expect_op(":");
            e->args.push_back(parse_expr());
        }
        expect_op("}");
        return seal(std::move(e));
    }

    expr_ptr parse_postfix(expr_ptr e) {
        while (true) {
            const token& at = cur();
            if (is_op(".")) {
                advance();
                if (cur().kind == token_kind::integer) {
                    auto idx = node(expr_kind::literal, cur());
                    idx->lit = value(advance().ival);
                    auto it = node(expr_kind::item, at);
                    it->args.push_back(std::move(e));
                    it->args.push_back(std::move(idx));
                    e = seal(std::move(it));
                } else {
                    auto a = node(expr_kind::attr, at);
                    a->name = expect_name();
                    a->args.push_back(std::move(e));
                    e = seal(std::move(a));
                }
            } else if (is_op("[")) {
                advance();
                e = parse_subscript(at, std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    expr_ptr parse_subscript(const token& at, expr_ptr target) {
        expr_ptr start;
        if (!is_op(":")) {
            start = parse_expr();
            if (skip_op("]")) {
                auto it = node(expr_kind::item, at);
                it->args.push_back(std::move(target));
                it->args.push_back(std::move(start));
                return seal(std::move(it));
            }
        }
        expect_op(":");
        auto s = node(expr_kind::slice, at);
        s->args.push_back(std::move(target));
        s->args.push_back(std::move(start));
        s->args.push_back(is_op(":") || is_op("]") ? nullptr : parse_expr());
        expr_ptr step;
        if (skip_op(":") && !is_op("]")) step = parse_expr();
        s->args.push_back(std::move(step));
        expect_op("]");
        return seal(std::move(s));
    }

    // Parses `(args, name=value)` into e->args (after any existing entries) and e->kwargs.
    void parse_args(expr& e) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (cur().kind == token_kind::name && is_op("=", 1)) {
                std::string name = advance().text;
                advance();
                e.kwargs.emplace_back(std::move(name), parse_expr());
            } else {
                if (!e.kwargs.empty()) fail(cur(), "positional argument after keyword argument");
                e.args.push_back(parse_expr());
            }
        }
        expect_op(")");
    }

    expr_ptr parse_call(expr_ptr callee) {
        auto c = node(expr_kind::call, cur());
        c->args.push_back(std::move(callee));
        parse_args(*c);
        return seal(std::move(c));
    }

    expr_ptr parse_filter_tail(expr_ptr e) {
        while (true) {
            if (is_op("|")) {
                e = parse_filter(std::move(e));
            } else if (is_name("is")) {
                e = parse_test(std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    expr_ptr parse_filter(expr_ptr target, bool after_pipe = true) {
        if (after_pipe) advance();  // |
        const token& at = cur();
        auto f = node(expr_kind::filter, at);
        f->name = expect_name();
        if (!filter_exists(f->name)) fail(at, "no filter named '" + f->name + "'");
        f->args.push_back(std::move(target));
        if (is_op("(")) parse_args(*f);
        return seal(std::move(f));
    }

    expr_ptr parse_test(expr_ptr target) {
        advance();  // is
        auto t = node(expr_kind::test, cur());
        t->negated = skip_name("not");
        const token& at = cur();
        t->name = expect_name();
        if (!test_exists(t->name)) fail(at, "no test named '" + t->name + "'");
        t->args.push_back(std::move(target));
        if (is_op("(")) {
            parse_args(*t);
        } else if ((cur().kind == token_kind::name || cur().kind == token_kind::string ||
                    cur().kind == token_kind::integer || cur().kind == token_kind::floating || is_op("[") ||
                    is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if")) {
            if (is_name("is")) fail(cur(), "cannot chain multiple tests with 'is'");
            t->args.push_back(parse_postfix(parse_primary()));
        }
        return seal(std::move(t));
    }

    const std::vector<token>& toks_;
    size_t pos_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
};

}  // namespace

stmt_list parse(const std::vector<token>& tokens) {
    return parser(tokens).parse_template();
}

}  // namespace tandem::jinja
