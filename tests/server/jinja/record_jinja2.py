#!/usr/bin/env python3
"""Records Python Jinja2's renders (as transformers' apply_chat_template sets it up: trim_blocks,
lstrip_blocks, loop controls, tojson as json.dumps(ensure_ascii=False), raise_exception,
strftime_now) of small templates that probe the language's corners chat templates use, into
tests/data/jinja2_semantics.json for test_jinja_semantics.cpp. An error is recorded as such.

    python3 tests/server/jinja/record_jinja2.py
"""
import datetime
import json
import os

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "jinja2_semantics.json")
NOW = 1796428800  # 2026-12-04 00:00 UTC: strftime_now's clock


def environment():
    # transformers' _compile_jinja_template
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


CTX = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None}],
       "tools": [{"type": "function", "function": {"name": "f", "parameters": {"b": 1, "a": [1, 2]}}}],
       "n": 3, "s": "Hello World", "d": {"z": 1, "a": 2}, "e": "", "none": None, "f": 2.5, "t": True}

CASES = {
    "undefined_prints_empty": "[{{ nope }}]",
    "undefined_plus_string": "{{ nope + 'x' }}",
    "undefined_attr_of_undefined": "{{ nope.deeper }}",
    "undefined_is_defined": "{{ nope is defined }}/{{ s is defined }}",
    "none_prints_None": "{{ none }}",
    "none_plus_string": "{{ none + 'x' }}",
    "content_none_in_concat": "{{ messages[1].content + '!' }}",
    "int_lt_str": "{{ 1 < 'a' }}",
    "str_eq_int": "{{ '1' == 1 }}",
    "int_plus_str": "{{ n + 'x' }}",
    "str_times_int": "{{ 'ab' * 3 }}",
    "int_div": "{{ 7 / 2 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }}",
    "float_print": "{{ f }} {{ 1.0 }} {{ 3 * 1.5 }} {{ 1e20 }} {{ 0.1 + 0.2 }}",
    "bool_print": "{{ t }} {{ not t }} {{ t | tojson }}",
    "tojson_default": "{{ tools | tojson }}",
    "tojson_indent": "{{ d | tojson(indent=2) }}",
    "tojson_sort_keys": "{{ d | tojson(sort_keys=true) }}",
    "tojson_separators": "{{ d | tojson(separators=(',', ':')) }}",
    "tojson_unicode": "{{ 'é→\"' | tojson }}",
    "tojson_float": "{{ [1.0, 2.5, 1e100] | tojson }}",
    "string_filter_dict": "{{ d | string }}",
    "string_filter_list": "{{ [1, 'a', none, true] | string }}",
    "print_dict": "{{ d }}",
    "print_list": "{{ ['a', 1] }}",
    "namespace_set": "{% set ns = namespace(x=1) %}{% for i in range(3) %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}",
    "loop_scope": "{% set x = 1 %}{% for i in range(3) %}{% set x = i %}{% endfor %}{{ x }}",
    "loop_vars": "{% for m in messages %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}|{% endfor %}",
    "loop_cycle": "{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "loop_previtem": "{% for i in [1, 2] %}{{ loop.previtem }}:{{ loop.nextitem }} {% endfor %}",
    "string_methods": "{{ s.upper() }} {{ s.lower() }} {{ s.split(' ') }} {{ s.startswith('He') }} {{ s.endswith('x') }} {{ s.replace('l', 'L') }} {{ ' a '.strip() }}|{{ 'xxaxx'.strip('x') }} {{ s.title() }} {{ s.find('o') }} {{ s.count('l') }}",
    "string_split_maxsplit": "{{ 'a,b,c'.split(',', 1) }} {{ 'a b  c'.split() }} {{ 'a\\nb'.splitlines() }}",
    "string_lrstrip": "[{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}] {{ 'abc'.capitalize() }}",
    "string_slice": "{{ s[1:4] }} {{ s[-5:] }} {{ s[::-1] }} {{ [1,2,3][1:] }}",
    "string_format": "{{ '%s-%d' % ('a', 3) }} {{ '{}+{}'.format(1, 2) }}",
    "in_operator": "{{ 'a' in 'cat' }} {{ 'z' in d }} {{ 2 in [1, 2] }} {{ 'q' not in d }}",
    "dict_methods": "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys() | list }} {{ d.get('z') }} {{ d.get('q', 'dflt') }}",
    "dictsort": "{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}",
    "filters_basic": "{{ s | length }} {{ s | lower }} {{ s | upper }} {{ [3,1,2] | sort }} {{ [1,2,2] | unique | list }} {{ [1,2] | join(',') }} {{ ' x ' | trim }} {{ [1,2,3] | first }} {{ [1,2,3] | last }} {{ 'abc' | reverse | join }}",
    "filters_more": "{{ -3 | abs }} {{ 2.567 | round(1) }} {{ '3' | int + 1 }} {{ 'x' | float }} {{ [1,2] | sum }} {{ [3,1] | min }} {{ [3,1] | max }} {{ 'a b' | wordcount }} {{ 'ab' | center(6) }}|",
    "filters_select": "{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | map(attribute='role') | join(',') }} {{ [1, none, 2] | select | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ messages | rejectattr('content') | list | length }}",
    "filters_default": "{{ nope | default('d') }} {{ e | default('d') }} {{ e | default('d', true) }} {{ none | default('d') }}",
    "filters_items": "{{ d | items | list }} {{ d | list }}",
    "filter_indent": "{{ 'a\\nb' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}",
    "filter_replace_truncate": "{{ 'aaa' | replace('a', 'b', 2) }} {{ 'hello world' | truncate(8) }} {{ 'x' | capitalize }}",
    "tests": "{{ 1 is number }} {{ 'a' is string }} {{ d is mapping }} {{ [1] is iterable }} {{ 'a' is iterable }} {{ none is none }} {{ 3 is odd }} {{ 4 is even }} {{ 4 is divisibleby 2 }} {{ true is boolean }} {{ 1 is integer }} {{ 1.5 is float }} {{ [] is sequence }} {{ f is callable }}",
    "test_equalto_sameas": "{{ 1 is equalto 1 }} {{ none is sameas none }} {{ 'a' is lower }} {{ 'A' is upper }}",
    "conditional_expr": "{{ 'y' if t else 'n' }} {{ 'y' if none }}|",
    "macro_defaults": "{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }} {{ m(1, b=2) }}",
    "macro_caller": "{% macro w() %}[{{ caller() }}]{% endmacro %}{% call w() %}in{% endcall %}",
    "set_block": "{% set x %}a{{ 1 }}b{% endset %}{{ x }}",
    "filter_block": "{% filter upper %}abc{% endfilter %}",
    "whitespace_control": "a  {%- if t -%}  b  {%- endif -%}  c\n{% if t %}\n  d\n{% endif %}\ne",
    "lstrip_blocks": "x\n    {% if t %}\n    y\n    {% endif %}\nz",
    "raw_block": "{% raw %}{{ x }}{% endraw %}",
    "comments": "a{# c #}b{#- c -#} c",
    "string_escapes": "{{ 'a\\tb\\\\n\\'q\\'' }}",
    "list_concat": "{{ [1] + [2] }} {{ (1, 2) }} {{ messages[-1].role }}",
    "dict_literal_order": "{{ {'b': 1, 'a': 2} | tojson }}",
    "nested_attr_and_item": "{{ tools[0].function.name }} {{ tools[0]['function']['parameters']['a'][1] }}",
    "missing_key_is_undefined": "{{ messages[0].nope is defined }} [{{ messages[0]['nope'] }}]",
    "index_out_of_range": "[{{ [1][5] }}]",
    "strftime_now": "{{ strftime_now('%Y-%m-%d %B %d, %Y %b') }}",
    "raise_exception": "{{ raise_exception('boom') }}",
    "break_continue": "{% for i in range(10) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "for_else": "{% for i in [] %}x{% else %}empty{% endfor %}",
    "for_if_filter": "{% for i in range(6) if i is even %}{{ i }}{% endfor %}",
    "for_unpack": "{% for a, b in [[1, 2], [3, 4]] %}{{ a }}{{ b }}{% endfor %}",
    "is_not": "{{ none is not none }} {{ 'a' is not string }}",
    "compare_chain": "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ [1, 2] == [1, 2] }}",
    "string_concat_tilde": "{{ 1 ~ 'a' ~ none }}",
    "int_filter_base": "{{ '0x1A' | int(0, 16) }} {{ '12' | int }} {{ 3.9 | int }}",
    "length_of_dict": "{{ d | length }} {{ d | count }}",
    "attr_on_string_method_chain": "{{ s.split(' ')[0].lower() }}",
    "map_filter_by_name": "{{ ['a', 'b'] | map('upper') | list }}",
    "batch_slice": "{{ [1,2,3,4,5] | batch(2) | list }}",
    "safe_escape": "{{ '<b>' | safe }} {{ '<b>' | e }}",
    "join_attribute": "{{ messages | join(', ', attribute='role') }}",
    "tojson_none_bool": "{{ {'a': none, 'b': true} | tojson }}",
    "in_list_of_dicts": "{{ {'role': 'user', 'content': 'Hi'} in messages }}",
    "dict_update_immutable": "{% set x = {} %}{% set _ = x.update({'a': 1}) %}{{ x }}",
    "list_append_immutable": "{% set x = [] %}{% set _ = x.append(1) %}{{ x }}",
}


def main():
    env = environment()
    out = {"about": "Python Jinja2 %s renders (transformers' environment); see record_jinja2.py" % jinja2.__version__,
           "now": NOW, "context": CTX, "cases": []}
    for name, src in CASES.items():
        row = {"name": name, "template": src}
        try:
            row["output"] = env.from_string(src).render(**CTX)
        except Exception as e:  # noqa: BLE001 - every error is recorded as such
            row["error"] = f"{type(e).__name__}: {e}"
        out["cases"].append(row)
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(f"wrote {OUT}: {len(out['cases'])} cases")


if __name__ == "__main__":
    main()
