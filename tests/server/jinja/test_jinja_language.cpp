// Language features of the chat-template interpreter, each checked against the output Jinja2
// (with transformers' settings: trim_blocks, lstrip_blocks, json.dumps tojson) gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "server/jinja/template.h"

namespace {

using tandem::jinja::chat_template;
using ojson = nlohmann::ordered_json;

std::string render(const std::string& src, const ojson& ctx = ojson::object()) {
    return chat_template(src).render(ctx);
}

TEST(JinjaLanguage, TextAndOutput) {
    EXPECT_EQ(render("hello"), "hello");
    EXPECT_EQ(render("{{ 'a' }}{{ \"b\" }}"), "ab");
    EXPECT_EQ(render("{{ x }}", {{"x", 42}}), "42");
    EXPECT_EQ(render("{# comment #}x"), "x");
    EXPECT_EQ(render("{{ 1.5 }} {{ 2.0 }} {{ 1e20 }} {{ 0.00001 }}"), "1.5 2.0 1e+20 1e-05");
    EXPECT_EQ(render("{{ true }} {{ none }} {{ False }}"), "True None False");
    EXPECT_EQ(render("{{ [1, 'a', none] }}"), "[1, 'a', None]");
    EXPECT_EQ(render("{{ {'k': \"it's\"} }}"), "{'k': \"it's\"}");
    EXPECT_EQ(render("a\n"), "a");  // keep_trailing_newline=False drops one final newline
    EXPECT_EQ(render("a\n\n"), "a\n");
}

TEST(JinjaLanguage, StringEscapes) {
    EXPECT_EQ(render(R"({{ 'a\nb\t\'\\' }})"), "a\nb\t'\\");
    EXPECT_EQ(render(R"({{ "\u00e9\x41" }})"),
              "\xc3\xa9"
              "A");
    EXPECT_EQ(render("{{ 'a' 'b' }}"), "ab");   // adjacent literals concatenate
    EXPECT_EQ(render("{{ 'x\\\ny' }}"), "xy");  // backslash-newline continuation
}

TEST(JinjaLanguage, WhitespaceControl) {
    EXPECT_EQ(render("a  {{- 'b' -}}  c"), "abc");
    EXPECT_EQ(render("a\n  {%- if true %}b{% endif %}"), "ab");
    EXPECT_EQ(render("a {#- c -#} b"), "ab");
    // trim_blocks: the newline after a block tag is removed; not after an expression.
    EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");
    EXPECT_EQ(render("{{ 'v' }}\nz"), "v\nz");
    // lstrip_blocks: indentation before a block tag on its own line is removed.
    EXPECT_EQ(render("<\n    {% if true %}\n    x\n    {% endif %}\n>"), "<\n    x\n>");
    // lstrip_blocks does not touch text before an expression, nor a tag preceded by text.
    EXPECT_EQ(render("  {{ 'e' }}"), "  e");
    EXPECT_EQ(render("t  {% if true %}u{% endif %}"), "t  u");
    // '+' disables lstrip_blocks / trim_blocks for that tag.
    EXPECT_EQ(render("  {%+ if true %}a{% endif +%}\nb"), "  a\nb");
    // Comments also get trim_blocks and lstrip_blocks.
    EXPECT_EQ(render("x\n  {# c #}\ny"), "x\ny");
    EXPECT_EQ(render("\r\na{% if true %}\r\nb{% endif %}"), "\nab");
}

TEST(JinjaLanguage, IfElifElse) {
    const char* t = "{% if x > 2 %}big{% elif x == 2 %}two{% else %}small{% endif %}";
    EXPECT_EQ(render(t, {{"x", 3}}), "big");
    EXPECT_EQ(render(t, {{"x", 2}}), "two");
    EXPECT_EQ(render(t, {{"x", 1}}), "small");
    EXPECT_EQ(render("{% if missing %}y{% else %}n{% endif %}"), "n");
    EXPECT_EQ(render("{% if [] or {} or '' or 0 or none %}y{% else %}n{% endif %}"), "n");
}

TEST(JinjaLanguage, ForLoopAndLoopVariable) {
    ojson ctx = {{"xs", {"a", "b", "c"}}};
    EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ x }}{% endfor %}", ctx), "10a21b32c");
    EXPECT_EQ(render("{% for x in xs %}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.length }}{% endfor %}", ctx),
              "323213103");
    EXPECT_EQ(
        render("{% for x in xs %}{% if loop.first %}[{% endif %}{{ x }}{% if loop.last %}]{% endif %}{% endfor %}",
               ctx),
        "[abc]");
    EXPECT_EQ(render("{% for x in xs %}{{ loop.previtem }}|{{ loop.nextitem }};{% endfor %}", ctx), "|b;a|c;b|;");
    EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('o', 'e') }}{% endfor %}", ctx), "oeo");
    EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(render("{% for x in xs if x != 'b' %}{{ x }}{{ loop.length }}{% endfor %}", ctx), "a2c2");
    EXPECT_EQ(render("{% for x in xs[::-1] %}{{ x }}{% endfor %}", ctx), "cba");
    EXPECT_EQ(render("{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(5, 1, -2) %}{{ i }}{% endfor %}"),
              "01253");
}

TEST(JinjaLanguage, ForOverDictsAndUnpacking) {
    ojson ctx = {{"d", {{"b", 1}, {"a", 2}}}};
    EXPECT_EQ(render("{% for k in d %}{{ k }}{% endfor %}", ctx), "ba");  // insertion order
    EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", ctx), "b=1;a=2;");
    EXPECT_EQ(render("{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}", ctx), "b1a2");
    EXPECT_EQ(render("{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}", ctx), "a2b1");
    EXPECT_EQ(render("{% for c in 'h\xc3\xa9' %}<{{ c }}>{% endfor %}"), "<h><\xc3\xa9>");
}

TEST(JinjaLanguage, BreakContinue) {
    EXPECT_EQ(render("{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}"), "012");
    EXPECT_EQ(render("{% for i in range(5) %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}"), "024");
}

TEST(JinjaLanguage, SetScopingAndNamespace) {
    // Assignments inside a loop do not leak out; namespace attributes do.
    EXPECT_EQ(render("{% set x = 1 %}{% for i in range(3) %}{% set x = i %}{% endfor %}{{ x }}"), "1");
    EXPECT_EQ(render("{% set ns = namespace(x=1) %}{% for i in range(3) %}{% set ns.x = ns.x + i %}{% endfor %}"
                     "{{ ns.x }}"),
              "4");
    EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.a = 'q' %}{{ ns.a }}"), "q");
    // `if` does not open a scope.
    EXPECT_EQ(render("{% if true %}{% set y = 'in' %}{% endif %}{{ y }}"), "in");
    EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
    EXPECT_EQ(render("{% set blk %}x{{ 1 + 1 }}{% endset %}[{{ blk }}]"), "[x2]");
    EXPECT_EQ(render("{% set messages = messages[1:] %}{{ messages|length }}", {{"messages", {1, 2, 3}}}), "2");
    EXPECT_EQ(render("{% with a = 5 %}{{ a }}{% endwith %}[{{ a }}]"), "5[]");
}

TEST(JinjaLanguage, Macros) {
    EXPECT_EQ(render("{% macro greet(name, punct='!') %}hi {{ name }}{{ punct }}{% endmacro %}"
                     "{{ greet('bo') }} {{ greet('al', punct='?') }} {{ greet(punct='.', name='x') }}"),
              "hi bo! hi al? hi x.");
    EXPECT_EQ(render("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
    // Macros see the template's top-level variables.
    EXPECT_EQ(render("{% set sep = '-' %}{% macro j(a, b) %}{{ a }}{{ sep }}{{ b }}{% endmacro %}{{ j(1, 2) }}"),
              "1-2");
    EXPECT_EQ(render("{% macro m() %}{{ varargs|length }}{{ kwargs.k }}{% endmacro %}{{ m(1, 2, k='v') }}"), "2v");
    EXPECT_EQ(render("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}in{% endcall %}"), "[in]");
    EXPECT_EQ(render("{% macro m() %}  x  {% endmacro %}<{{ m() | trim }}>"), "<x>");
}

TEST(JinjaLanguage, Operators) {
    EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }}"),
              "3 -4 1 2 3.5 1024");
    EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }} {{ 1 + 0.5 }}"), "7 9 5 1.5");
    EXPECT_EQ(render("{{ 'a' ~ 1 ~ none }} {{ 'ab' + 'cd' }} {{ '-' * 3 }} {{ [1] + [2] }}"), "a1None abcd --- [1, 2]");
    EXPECT_EQ(render("{{ 1 < 2 }} {{ 'a' < 'b' }} {{ 2 >= 3 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'a' }}"),
              "True True False True True False");
    EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}"),
              "True True True True");
    EXPECT_EQ(render("{{ not true }} {{ true and 'x' }} {{ 0 or 'y' }} {{ none or [] }}"), "False x y []");
    EXPECT_EQ(render("{{ 'y' if 1 else 'n' }}{{ 'y' if 0 else 'n' }}[{{ 'z' if 0 }}]"), "yn[]");
    EXPECT_EQ(render("{{ -3|abs }} {{ -(2) }} {{ 2 + -1 }}"), "3 -2 1");
    EXPECT_EQ(render("{{ '%s=%d' % ('a', 3) }}"), "a=3");
}

TEST(JinjaLanguage, AttributeItemAndSlice) {
    ojson ctx = {{"m", {{"role", "user"}, {"list", {10, 20, 30}}}}, {"s", "h\xc3\xa9llo"}};
    EXPECT_EQ(render("{{ m.role }} {{ m['role'] }} {{ m.list[1] }} {{ m.list[-1] }} {{ m.list.0 }}", ctx),
              "user user 20 30 10");
    EXPECT_EQ(render("[{{ m.missing }}][{{ m.list[9] }}]", ctx), "[][]");
    EXPECT_EQ(render("[{{ m.missing.deeper }}]", ctx), "[]");  // as llama.cpp (Jinja2 raises)
    EXPECT_EQ(render("{{ m.list[1:] }} {{ m.list[:-1] }} {{ m.list[::2] }} {{ m.list[::-1] }}", ctx),
              "[20, 30] [10, 20] [10, 30] [30, 20, 10]");
    EXPECT_EQ(render("{{ s[1] }} {{ s[1:3] }} {{ s[-3:] }} {{ s|length }}", ctx), "\xc3\xa9 \xc3\xa9l llo 5");
    EXPECT_EQ(render("{{ (none).x }}|{{ 'abc'.nope }}|"), "||");
}

TEST(JinjaLanguage, Literals) {
    EXPECT_EQ(render("{{ [1, [2, 3], {'a': [4, 5]}] }}"), "[1, [2, 3], {'a': [4, 5]}]");
    EXPECT_EQ(render("{{ {'a': 1, 'b': 2}|length }} {{ ()|length }} {{ [1,]|length }}"), "2 0 1");
    EXPECT_EQ(render("{{ 1_000 }} {{ 2.5e2 }}"), "1000 250.0");
}

TEST(JinjaLanguage, StringMethods) {
    EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|"), "x|x  |  x|");
    EXPECT_EQ(render("{{ '\\nab\\n'.strip('\\n') }}|{{ 'xxaxx'.lstrip('x') }}|{{ 'abc'.rstrip('cb') }}"), "ab|axx|a");
    EXPECT_EQ(render("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a-b-c'.split('-', 1) }}"),
              "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b-c']");
    EXPECT_EQ(render("{{ 'x</think>y'.split('</think>')[-1] }} {{ 'a-b-c'.rsplit('-', 1) }}"), "y ['a-b', 'c']");
    EXPECT_EQ(
        render("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }}"),
        "True True True");
    EXPECT_EQ(render("{{ 'aBc'.upper() }} {{ 'aBc'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}"),
              "ABC abc Hello World Hello");
    EXPECT_EQ(render("{{ 'aaa'.replace('a', 'b', 2) }} {{ ', '.join(['x', 'y']) }} {{ 'abcb'.find('b') }}"),
              "bba x, y 1");
    EXPECT_EQ(render("{{ '{} and {name}'.format(1, name='n') }} {{ 'l1\\nl2'.splitlines() }}"), "1 and n ['l1', 'l2']");
    EXPECT_EQ(render("[{{ '\xe3\x80\x80x\xc2\xa0'.strip() }}]"), "[x]");  // Python strips Unicode whitespace
}

TEST(JinjaLanguage, DictMethods) {
    ojson ctx = {{"d", {{"x", 1}, {"y", 2}}}};
    EXPECT_EQ(render("{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }}", ctx),
              "['x', 'y'] [1, 2] [['x', 1], ['y', 2]]");
    EXPECT_EQ(render("{{ d.get('x') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }}", ctx), "1 None dflt");
}

TEST(JinjaLanguage, Filters) {
    EXPECT_EQ(render("[{{ '  a b  '|trim }}] {{ 'ab'|upper }} {{ 'AB'|lower }} {{ 'hi there'|capitalize }}"),
              "[a b] AB ab Hi there");
    EXPECT_EQ(render("{{ 'hello-world foo'|title }} {{ [3, 1]|length }} {{ 'abc'|count }} {{ undefined_x|length }}"),
              "Hello-World Foo 2 3 0");
    EXPECT_EQ(render("{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'xyz'|first }} {{ [1, 2]|join('+') }}"),
              "1 3 x 1+2");
    EXPECT_EQ(render("{{ nope|default('d') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ nope|d('x') }}"),
              "d  e x");
    EXPECT_EQ(render("{{ 42|string ~ '!' }} {{ '12'|int + 1 }} {{ '3.7'|int }} {{ 'x'|int(-1) }} {{ '2.5'|float }}"),
              "42! 13 3 -1 2.5");
    EXPECT_EQ(
        render("{{ 'ab'|list }} {{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ [1, 2]|reverse|list }}"),
        "['a', 'b'] [1, 2, 3] [3, 2, 1] [2, 1]");
    EXPECT_EQ(render("{{ ['b', 'A', 'a']|unique|list }} {{ [1, 2, 3]|sum }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ "
                     "3.5|round }}"),
              "['b', 'A'] 6 2.57 2.0 4.0");
    EXPECT_EQ(render("{{ 'a<b>&\"'|escape }} {{ 'x'|safe }} {{ 'aXbX'|replace('X', '_') }}"),
              "a&lt;b&gt;&amp;&#34; x a_b_");
    EXPECT_EQ(render("{{ 'a\\nb\\n\\nc'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}"), "a\n  b\n\n  c|  a\n  b");
    EXPECT_EQ(render("{{ [1, 2, 3, 4, 5]|batch(2)|list }} {{ [4, 9, 2]|max }} {{ [4, 9, 2]|min }}"),
              "[[1, 2], [3, 4], [5]] 9 2");
    EXPECT_EQ(render("{{ '%s-%s'|format('a', 'b') }}"), "a-b");
}

TEST(JinjaLanguage, SelectMapFilters) {
    ojson ctx = {
        {"ms", {{{"role", "user"}, {"n", 1}}, {{"role", "assistant"}, {"n", 2}}, {{"role", "user"}, {"n", 3}}}}};
    EXPECT_EQ(render("{{ ms|selectattr('role', 'equalto', 'user')|map(attribute='n')|list }}", ctx), "[1, 3]");
    EXPECT_EQ(render("{{ ms|rejectattr('role', '==', 'user')|map(attribute='n')|join(',') }}", ctx), "2");
    EXPECT_EQ(render("{{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3]|reject('odd')|list }}"), "[2, 4] [2]");
    EXPECT_EQ(render("{{ [0, 1, '', 'a']|select|list }} {{ ['a', 'b']|map('upper')|list }}"), "[1, 'a'] ['A', 'B']");
    EXPECT_EQ(render("{{ ms|map(attribute='role')|unique|list }} {{ ms|sum(attribute='n') }}", ctx),
              "['user', 'assistant'] 6");
    EXPECT_EQ(render("{{ ms|map(attribute='zz', default='-')|join }}", ctx), "---");
    EXPECT_EQ(render("{{ ms|selectattr('n', 'gt', 1)|list|length }}", ctx), "2");
}

TEST(JinjaLanguage, ToJson) {
    ojson ctx = {{"t", {{"name", "f"}, {"args", {1, 2.5, true, nullptr}}, {"u", "\xc3\xa9\"\n"}}}};
    // json.dumps defaults: ", " and ": " separators, no sorting, ensure_ascii=False.
    EXPECT_EQ(render("{{ t|tojson }}", ctx),
              "{\"name\": \"f\", \"args\": [1, 2.5, true, null], \"u\": \"\xc3\xa9\\\"\\n\"}");
    EXPECT_EQ(render("{{ {'a': [1, {}], 'b': []}|tojson(indent=2) }}"),
              "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": []\n}");
    EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}"), "{\"a\": 2, \"b\": 1}");
    EXPECT_EQ(render("{{ 'x'|tojson }} {{ none|tojson }} {{ 1.0|tojson }}"), "\"x\" null 1.0");
}

TEST(JinjaLanguage, Tests) {
    ojson ctx = {{"s", "x"}, {"n", 3}, {"f", 1.5}, {"l", {1}}, {"d", {{"a", 1}}}, {"z", nullptr}, {"b", false}};
    EXPECT_EQ(render("{{ s is string }}{{ n is string }}{{ n is number }}{{ f is number }}{{ n is integer }}"
                     "{{ f is integer }}{{ f is float }}",
                     ctx),
              "TrueFalseTrueTrueTrueFalseTrue");
    EXPECT_EQ(render("{{ d is mapping }}{{ l is mapping }}{{ l is iterable }}{{ s is iterable }}{{ n is iterable }}"
                     "{{ l is sequence }}",
                     ctx),
              "TrueFalseTrueTrueFalseTrue");
    EXPECT_EQ(render("{{ z is none }}{{ s is none }}{{ q is defined }}{{ q is undefined }}{{ s is defined }}", ctx),
              "TrueFalseFalseTrueTrue");
    EXPECT_EQ(render("{{ b is boolean }}{{ b is false }}{{ b is true }}{{ n is boolean }}", ctx), "TrueTrueFalseFalse");
    EXPECT_EQ(render("{{ n is odd }}{{ n is even }}{{ 9 is divisibleby 3 }}{{ n is divisibleby(2) }}", ctx),
              "TrueFalseTrueFalse");
    EXPECT_EQ(render("{{ s is equalto 'x' }}{{ 2 is in [1, 2] }}{{ s is not none }}{{ not s is none }}", ctx),
              "TrueTrueTrueTrue");
    EXPECT_EQ(render("{{ range is callable }}{{ 'ab' is lower }}{{ 'AB' is upper }}", ctx), "TrueTrueTrue");
}

TEST(JinjaLanguage, UndefinedIsLenient) {
    EXPECT_EQ(render("[{{ nothing }}]"), "[]");
    // Looking into it gives undefined again, as llama.cpp's engine renders it (Jinja2 raises); calling
    // it still fails.
    EXPECT_EQ(render("[{{ nothing.attr }}|{{ nothing['k'][0] | upper }}|{{ nothing.a.b is defined }}]"), "[||False]");
    EXPECT_THROW(render("{{ nothing['k'][missing()] }}"), tandem::error);
    EXPECT_THROW(render("{{ nothing.f() }}"), tandem::error);
    EXPECT_EQ(render("{% if nothing %}y{% else %}n{% endif %}{% for x in nothing %}x{% endfor %}"), "n");
    EXPECT_EQ(render("{{ nothing == nothing }} {{ nothing is none }} {{ 'a' in nothing }}"), "True False False");
    EXPECT_EQ(render("{{ nothing ~ 'x' }}|{{ nothing|trim }}|{{ nothing|list }}"), "x||[]");
}

TEST(JinjaLanguage, GenerationAndRawBlocks) {
    EXPECT_EQ(render("a{% generation %}b{% endgeneration %}c"), "abc");
    EXPECT_EQ(render("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
    EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
}

TEST(JinjaLanguage, StrftimeNowUsesInjectedClock) {
    tandem::jinja::render_options opt;
    opt.now = 1721952000;  // 2024-07-26 00:00:00 UTC
    setenv("TZ", "UTC", 1);
    tzset();
    chat_template t("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d') }}");
    EXPECT_EQ(t.render(ojson::object(), opt), "26 Jul 2024|2024-07-26");
}

TEST(JinjaLanguage, SortedJsonContextAlsoWorks) {
    chat_template t("{{ d|tojson }}");
    nlohmann::json ctx = {{"d", {{"b", 1}, {"a", 2}}}};
    EXPECT_EQ(t.render(ctx), "{\"a\": 2, \"b\": 1}");  // nlohmann::json itself keeps keys sorted
}

}  // namespace
