// Error cases: syntax errors name their position, runtime errors and raise_exception become
// tandem::error, and hostile templates hit the recursion / iteration / output / work bounds quickly.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "common/error.h"
#include "server/jinja/template.h"

namespace {

using tandem::jinja::chat_template;
using tandem::jinja::render_options;
using ojson = nlohmann::ordered_json;

// The tandem::error message of parsing + rendering `src`, or "" if it succeeded.
std::string error_of(const std::string& src, const ojson& ctx = ojson::object(), const render_options& opt = {}) {
    try {
        chat_template(src).render(ctx, opt);
    } catch (const tandem::error& e) {
        return e.what();
    }
    return "";
}

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

TEST(JinjaErrors, SyntaxErrorsNamePosition) {
    std::string e = error_of("line one\n{% if x %}\n{{ 1 + }}\n{% endif %}");
    EXPECT_TRUE(has(e, "syntax error at line 3, column 8")) << e;
    e = error_of("{% if x %}never closed");
    EXPECT_TRUE(has(e, "expected 'endif'")) << e;
    e = error_of("{% for x in y %}");
    EXPECT_TRUE(has(e, "expected 'endfor'")) << e;
    e = error_of("ok\n  {{ x|no_such_filter }}");
    EXPECT_TRUE(has(e, "line 2, column 8") && has(e, "no filter named 'no_such_filter'")) << e;
    e = error_of("{{ x is no_such_test }}");
    EXPECT_TRUE(has(e, "no test named 'no_such_test'")) << e;
    EXPECT_TRUE(has(error_of("{% frobnicate %}"), "unknown tag 'frobnicate'"));
    EXPECT_TRUE(has(error_of("{{ 'abc }}"), "unterminated string"));
    EXPECT_TRUE(has(error_of("{# never closed"), "unclosed comment"));
    EXPECT_TRUE(has(error_of("{{ x "), "unclosed tag"));
    EXPECT_TRUE(has(error_of("{% break %}"), "outside of a loop"));
    EXPECT_TRUE(has(error_of("{{ a $ b }}"), "unexpected character '$'"));
    EXPECT_THROW(chat_template("{% endif %}"), tandem::error);
}

TEST(JinjaErrors, RaiseExceptionMessage) {
    std::string e = error_of("\n  {{- raise_exception('Only user and assistant roles are supported!') }}");
    EXPECT_TRUE(has(e, "Only user and assistant roles are supported!")) << e;
    EXPECT_TRUE(has(e, "line 2")) << e;
}

TEST(JinjaErrors, RuntimeTypeErrors) {
    EXPECT_TRUE(has(error_of("{{ 'a' + 1 }}"), "unsupported operand type(s) for +: 'str' and 'int'"));
    EXPECT_TRUE(has(error_of("{{ foo() }}"), "'foo' is undefined"));
    EXPECT_TRUE(has(error_of("{{ m.content.nope() }}", {{"m", {{"content", "x"}}}}), "'m.content.nope' is undefined"));
    EXPECT_TRUE(has(error_of("{{ x + 1 }}"), "'x' is undefined"));
    EXPECT_TRUE(has(error_of("{{ 1 // 0 }}"), "division by zero"));
    EXPECT_TRUE(has(error_of("{{ 1 < 'a' }}"), "not supported between"));
    EXPECT_TRUE(has(error_of("{{ none|tojson }}{{ undefined_name|tojson }}"), "not JSON serializable"));
    EXPECT_TRUE(has(error_of("{% for x in 3 %}{% endfor %}"), "'int' object is not iterable"));
    EXPECT_TRUE(has(error_of("{% set x = 1 %}{% set x.a = 2 %}"), "only namespace() objects"));
    EXPECT_TRUE(has(error_of("{{ 9223372036854775807 + 1 }}"), "integer overflow"));
    EXPECT_TRUE(has(error_of("{{ 'x'.split('') }}"), "empty separator"));
}

TEST(JinjaErrors, RecursionIsBounded) {
    std::string e = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
    EXPECT_TRUE(has(e, "depth limit")) << e;
    // Even with the macro limit lifted, the evaluator's own frame bound stops it before the stack ends.
    render_options opt;
    opt.max_depth = 1'000'000;
    e = error_of("{% macro f(n) %}{% if true %}{{ f(n + 1) }}{% endif %}{% endmacro %}{{ f(0) }}", ojson::object(),
                 opt);
    EXPECT_TRUE(has(e, "nested too deeply")) << e;
    // Deeply nested syntax is rejected by the parser instead of overflowing the stack.
    std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
    EXPECT_TRUE(has(error_of(deep), "nested too deeply"));
    std::string chain = "{{ 1";
    for (int i = 0; i < 20000; ++i) chain += " + 1";
    EXPECT_TRUE(has(error_of(chain + " }}"), "nested too deeply"));
    std::string ifs;
    for (int i = 0; i < 2000; ++i) ifs += "{% if true %}";
    EXPECT_TRUE(has(error_of(ifs), "nested too deeply"));
}

TEST(JinjaErrors, IterationsAreBounded) {
    render_options opt;
    opt.max_iterations = 5000;
    std::string e =
        error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", ojson::object(), opt);
    EXPECT_TRUE(has(e, "iteration limit")) << e;
    EXPECT_TRUE(has(error_of("{{ range(2000000000)|length }}"), "exceeds the iteration limit"));
    // A small nested loop stays well within the default limits.
    EXPECT_EQ(error_of("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}"), "");
}

TEST(JinjaErrors, OutputAndStringsAreBounded) {
    render_options opt;
    opt.max_output_bytes = 5000;
    EXPECT_TRUE(
        has(error_of("{% for i in range(1000) %}0123456789{% endfor %}", ojson::object(), opt), "output exceeds"));
    EXPECT_TRUE(has(error_of("{{ 'a' * 100000 }}", ojson::object(), opt), "exceeds the output limit"));
    EXPECT_TRUE(has(error_of("{% set s = 'x' * 4000 %}{{ (s ~ s)|length }}", ojson::object(), opt),
                    "exceeds the output limit"));
}

TEST(JinjaErrors, WorkIsBounded) {
    // Quadratic string building: each iteration copies the growing string.
    render_options opt;
    opt.max_work = 2'000'000;
    auto t0 = std::chrono::steady_clock::now();
    std::string e = error_of(
        "{% set ns = namespace(s='') %}{% for i in range(100000) %}{% set ns.s = ns.s ~ '0123456789' %}"
        "{% endfor %}{{ ns.s|length }}",
        ojson::object(), opt);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_TRUE(has(e, "work budget")) << e;
    EXPECT_LT(secs, 5.0);
}

TEST(JinjaErrors, ValueNestingAndNamespaceCyclesAreRejected) {
    std::string e =
        error_of("{% set ns = namespace(x=[]) %}{% for i in range(1000) %}{% set ns.x = [ns.x] %}{% endfor %}");
    EXPECT_TRUE(has(e, "nested too deeply")) << e;
    EXPECT_TRUE(has(error_of("{% set ns = namespace() %}{% set ns.me = ns %}"), "cannot be stored inside"));
    EXPECT_TRUE(has(error_of("{% set ns = namespace() %}{% set ns.me = [ns] %}"), "cannot be stored inside"));
    ojson deep = ojson::array();
    for (int i = 0; i < 1000; ++i) deep = ojson::array({deep});
    EXPECT_TRUE(has(error_of("{{ x }}", {{"x", deep}}), "nested too deeply"));
}

TEST(JinjaErrors, ContextMustBeAnObject) {
    EXPECT_THROW(chat_template("x").render(ojson::array()), tandem::error);
}

}  // namespace

namespace {

std::string read_template(const std::string& name) {
    std::string path = std::string(TANDEM_JINJA_TEMPLATE_DIR) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("missing template test data: " + path);
    std::string s;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) s.append(buf, n);
    std::fclose(f);
    return s;
}

// Mutated real templates must either render or fail with tandem::error: never crash, hang or
// leak another exception type (run under -DTANDEM_SANITIZE=address,undefined to check memory).
TEST(JinjaErrors, MutatedTemplatesFailCleanly) {
    const char* files[] = {"llama-3.1.jinja",           "qwen3.jinja",       "gemma4.jinja", "mistral-small-3.1.jinja",
                           "deepseek-r1-distill.jinja", "mistral-nemo.jinja"};
    const std::string alphabet = "{}%#-+()[]'\"|.,:=~*/ \n\\abinotfrsx019";
    ojson tool = {{"type", "function"},
                  {"function", {{"name", "f"}, {"description", "d"}, {"parameters", {{"type", "object"}}}}}};
    ojson ctx = {{"messages",
                  {{{"role", "system"}, {"content", "s"}},
                   {{"role", "user"}, {"content", "u"}},
                   {{"role", "assistant"},
                    {"content", "a"},
                    {"tool_calls", {{{"id", "abcdefghi"}, {"function", {{"name", "f"}, {"arguments", "{}"}}}}}}},
                   {{"role", "tool"}, {"content", "r"}, {"tool_call_id", "abcdefghi"}}}},
                 {"tools", {tool}},
                 {"bos_token", "<s>"},
                 {"eos_token", "</s>"},
                 {"add_generation_prompt", true}};
    render_options opt;
    opt.max_iterations = 20000;
    opt.max_work = 2'000'000;
    uint32_t state = 12345;
    auto next = [&](uint32_t n) {
        state = state * 1664525u + 1013904223u;
        return (state >> 8) % n;
    };
    size_t n_rendered = 0, n_errors = 0;
    for (const char* file : files) {
        const std::string base = read_template(file);
        for (int round = 0; round < 300; ++round) {
            std::string src = base;
            int n_edits = 1 + static_cast<int>(next(4));
            for (int k = 0; k < n_edits && !src.empty(); ++k) {
                size_t pos = next(static_cast<uint32_t>(src.size()));
                switch (next(3)) {
                    case 0:
                        src[pos] = alphabet[next(static_cast<uint32_t>(alphabet.size()))];
                        break;
                    case 1:
                        src.erase(pos, next(12));
                        break;
                    default:
                        src.insert(pos, src.substr(next(static_cast<uint32_t>(src.size())), next(24)));
                }
            }
            try {
                chat_template(src).render(ctx, opt);
                ++n_rendered;
            } catch (const tandem::error&) {
                ++n_errors;
            }
        }
    }
    EXPECT_GT(n_rendered, 0u);
    EXPECT_GT(n_errors, 0u);
}

}  // namespace
