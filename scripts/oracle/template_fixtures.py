#!/usr/bin/env python3
"""Render every chat template in Tests/Fixtures/templates with jinja2, configured the way
transformers' apply_chat_template configures it (utils/chat_template_utils.py,
_compile_jinja_template): ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True),
loopcontrols, a json.dumps-based tojson (ensure_ascii=False), raise_exception and strftime_now.
strftime_now uses a FIXED date so the output is deterministic.

Writes Tests/Fixtures/templates/conversations.json (the inputs) and expected.jsonl (one line per
template x conversation x add_generation_prompt: the rendered text, or the exception jinja2 raised).

Usage: python3 -m venv .venv-oracle && .venv-oracle/bin/pip install jinja2==3.1.6
       .venv-oracle/bin/python scripts/oracle/template_fixtures.py
"""
import json
import pathlib
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "Fixtures" / "templates"
FIXED_NOW = datetime(2025, 3, 14, 9, 26, 53)
BOS, EOS = "<|bos|>", "<|eos|>"


class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker renders {% generation %} bodies unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_passthrough"), [], [], body).set_lineno(lineno)

    def _passthrough(self, caller):
        return caller()


def environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a time zone.",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
        "return": {"type": "string"},
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_flights",
        "description": "Search flights",
        "parameters": {
            "type": "object",
            "properties": {
                "origin": {"type": "string", "description": "IATA code.", "examples": ["ZRH", "CDG"]},
                "max_stops": {"type": "integer", "default": 1, "minimum": 0, "maximum": 3},
                "cabin": {"type": "string", "enum": ["economy", "business"], "default": "economy"},
                "dates": {"type": "array", "items": {"type": "string", "format": "date"}, "description": "Travel dates"},
                "passengers": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "age": {"type": ["integer", "null"]}}, "required": ["name"]}},
                "filters": {"type": "object", "properties": {"airline": {"type": "string", "nullable": True}},
                            "additionalProperties": {"type": "number"}},
                "flexible": {"type": "boolean"},
                "budget": {"oneOf": [{"type": "number"}, {"type": "string", "format": "currency"}]},
            },
            "required": ["origin", "dates"],
        },
    },
}

SYSTEM = {"role": "system", "content": "You are a terse assistant.  "}
U1 = {"role": "user", "content": "Hello! What's 2+2?"}
A1 = {"role": "assistant", "content": "  It is 4.\n"}
U2 = {"role": "user", "content": "Now say \"héllo wörld\" 🌍 <b>&amp; \\ /"}

CONVERSATIONS = [
    {"id": "user_only", "messages": [U1]},
    {"id": "system_user", "messages": [SYSTEM, U1]},
    {"id": "multi_turn", "messages": [SYSTEM, U1, A1, U2]},
    {"id": "multi_turn_no_system", "messages": [U1, A1, U2, {"role": "assistant", "content": "héllo wörld"}]},
    {"id": "not_alternating", "messages": [U1, {"role": "user", "content": "Again?"}]},
    {"id": "content_parts", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe this. "}]},
    ]},
    {"id": "think", "messages": [U1, {"role": "assistant", "content": "<think>\nadd\n</think>\n\nIt is 4."}, U2]},
    {"id": "tools_available", "tools": [WEATHER_TOOL, TIME_TOOL], "messages": [SYSTEM, {"role": "user", "content": "Weather in Zürich?"}]},
    {"id": "tool_call_roundtrip", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_abc123456", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}]},
        {"role": "tool", "tool_call_id": "call_abc123456", "name": "get_weather", "content": "{\"temp\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 °C and clear."},
    ]},
    {"id": "tools_rich_schema", "tools": [SEARCH_TOOL, WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Find me a flight from Zürich."},
    ]},
    {"id": "reasoning_multi_turn", "messages": [
        SYSTEM, U1,
        {"role": "assistant", "content": "<think>\nsimple sum\n</think>\n\n4"},
        {"role": "user", "content": "<tool_response>x</tool_response>"},
        {"role": "assistant", "reasoning_content": "thinking hard", "content": "Done."},
    ]},
    {"id": "tool_call_string_args", "messages": [
        {"role": "user", "content": "Time in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_xyz987654", "type": "function",
             "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}},
            {"id": "call_second0001", "type": "function",
             "function": {"name": "get_time", "arguments": "{\"tz\": \"UTC\"}"}}]},
        {"role": "tool", "tool_call_id": "call_xyz987654", "content": "18:00"},
        {"role": "tool", "tool_call_id": "call_second0001", "content": "09:00"},
        {"role": "assistant", "content": "Tokyo: 18:00, UTC: 09:00."},
    ]},
]


# Small templates that pin down one feature each: (id, template, context).
SNIPPETS = [
    # whitespace control, trim_blocks, lstrip_blocks
    ("ws_trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter", {}),
    ("ws_lstrip", "a\n    {% if true %}\n    b\n    {% endif %}\nc", {}),
    ("ws_lstrip_not_variable", "a\n    {{ 'x' }}\n  b", {}),
    ("ws_minus", "a   {%- if true -%}   b   {%- endif -%}   c", {}),
    ("ws_minus_var", "a \n {{- 'x' -}} \n b", {}),
    ("ws_plus", "a\n    {%+ if true %}b{% endif +%}\nc", {}),
    ("ws_comment", "a\n  {# note #}\nb {#- x -#} c", {}),
    ("ws_raw", "{% raw %}{{ not parsed }} {% if %}{% endraw %}!", {}),
    ("ws_raw_lines", "x\n  {% raw -%}\n  {{ y }}\n  {%- endraw %}\nz", {}),
    ("ws_trailing_newline", "line\n", {}),
    ("ws_crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\n", {}),
    ("ws_text_then_block_same_line", "x {% if true %}y{% endif %} z\n  {% set q = 1 %}  w", {}),
    ("ws_unicode_space", "a\u00a0{%- if true %}b{% endif %}", {}),
    # literals and str()
    ("str_values", "{{ none }}|{{ true }}|{{ 1 }}|{{ 1.0 }}|{{ 1.5e20 }}|{{ 0.0001 }}|{{ 1e-5 }}|{{ 10/4 }}|{{ 2**62 }}", {}),
    ("str_list", "{{ ['a', 1, none, true, 2.5, \"it's\", 'q\"', 'both\\'\"'] }}", {}),
    ("str_dict", "{{ {'a': 1, 'b': [1, {'c': none}]} }}", {}),
    ("str_escapes", "{{ ['tab\\there', 'nl\\n', 'back\\\\', 'é✓', '\\x01'] }}", {}),
    ("string_escapes_in_literal", "{{ 'a\\nb\\tc\\\\d\\'e\\u00e9\\x41' }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("float_formats", "{{ 0.1 + 0.2 }}|{{ 1/3 }}|{{ 1e16 }}|{{ 123456789.0 * 1000000 }}|{{ -0.0 }}|{{ 2.0**60 }}", {}),
    # operators
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7.5 // 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 3 - -1 }}", {}),
    ("concat_tilde", "{{ 1 ~ 'a' ~ none ~ undefined_var ~ [1] }}", {}),
    ("string_mult", "{{ 'ab' * 3 }}{{ [1] * 2 }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }}", {}),
    ("in_operator", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' in undefined_var }}", {}),
    ("logic", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not 0 }} {{ none or [] }} {{ '' and 1 }}", {}),
    ("ternary", "{{ 'a' if true else 'b' }}{{ 'c' if false }}|{{ ('d' if 0 else 'e') | upper }}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 'a' ~ (1 + 2) }} {{ not true == false }} {{ -3 | abs }}", {}),
    # indexing and slicing
    ("indexing", "{{ xs[0] }}{{ xs[-1] }}{{ d['k'] }}{{ d.k }}{{ s[1] }}{{ xs[10] }}|{{ d.missing }}|", {"xs": [1, 2, 3], "d": {"k": "v"}, "s": "héllo"}),
    ("slicing", "{{ xs[::-1] }} {{ xs[1:] }} {{ xs[:-1] }} {{ xs[::2] }} {{ s[::-1] }} {{ s[1:3] }} {{ xs[5:] }} {{ xs[-2:] }}", {"xs": [1, 2, 3, 4], "s": "abcdé"}),
    ("unicode_len", "{{ s | length }} {{ s[-9:] }} {{ s[:-1] }}", {"s": "🇫🇷 café ok"}),
    # statements
    ("for_loop_vars", "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }};{% endfor %}", {"xs": "abc"}),
    ("for_items", "{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("for_filter_else", "{% for x in xs if x > 1 %}{{ x }}{{ loop.length }}{% else %}none{% endfor %}|{% for x in [] %}x{% else %}empty{% endfor %}", {"xs": [1, 2, 3]}),
    ("for_prev_next", "{% for x in xs %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }};{% endfor %}", {"xs": [1, 2, 3]}),
    ("for_scope", "{% set y = 0 %}{% for x in [1, 2] %}{% set y = x %}{{ y }}{% endfor %}{{ y }}", {}),
    ("for_dict", "{% for k in {'z': 1, 'a': 2} %}{{ k }}{% endfor %}", {}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ b }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("loop_controls", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("if_elif", "{% for x in [1, 2, 3] %}{% if x == 1 %}one{% elif x == 2 %}two{% else %}many{% endif %} {% endfor %}", {}),
    ("set_namespace", "{% set ns = namespace(n=0, s='') %}{% for x in [1, 2, 3] %}{% set ns.n = ns.n + x %}{% set ns.s = ns.s ~ x %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("set_block", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}]", {"name": "Ana"}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}", {}),
    ("macro_defaults", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(name='C', punct='.') }}", {}),
    ("macro_recursion", "{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(5) }}", {}),
    ("macro_scope", "{% set g = 'global' %}{% macro m() %}{{ g }}{% endmacro %}{{ m() }}", {}),
    ("filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    ("generation_tag", "a{% generation %}b{% endgeneration %}c", {}),
    # methods
    ("string_methods", "{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  x'.lstrip() }}|{{ 'x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith(('x', 'a')) }}|{{ 'hello world'.title() }}|{{ 'ABC'.lower() }}{{ 'abc'.upper() }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'x'.join(['1', '2']) }}|{{ 'abcabc'.find('c') }}{{ 'abc'.rfind('z') }}{{ 'abcabc'.count('b') }}", {}),
    ("dict_methods", "{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{{ d.keys() | list }}{{ d.values() | list }}{{ d.items() | map('first') | list }}{{ d.items() | map('last') | list }}", {"d": {"a": 1, "b": [2]}}),
    ("split_think", "{{ c.split('</think>')[-1] }}|{{ c.split('</think>')[0].split('<think>')[-1].strip() }}", {"c": "<think>\nreason\n</think>\n\nanswer"}),
    # tests
    ("tests", "{{ x is defined }}{{ y is undefined }}{{ none is none }}{{ 's' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 's' is sequence }}{{ 1 is number }}{{ 1.5 is number }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ 1 is odd }}{{ 2 is even }}{{ 'a' is equalto 'a' }}{{ 1 is eq 1 }}{{ 3 is divisibleby 3 }}{{ 1 is integer }}{{ 1.0 is float }}{{ x is not none }}{{ 2 is in [1, 2] }}{{ {} is sequence }}{{ y is iterable }}", {"x": 1}),
    # filters
    ("filter_trim_case", "{{ '  Hi  ' | trim }}|{{ 'hello WORLD-foo bar(baz' | title }}|{{ 'hELLO' | capitalize }}|{{ 'x' | upper }}{{ 'Y' | lower }}|{{ 'a-b' | replace('-', '+') }}", {}),
    ("filter_tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é\"<>&\\n' | tojson }}|{{ [1, 2.0, none, true] | tojson }}|{{ d | tojson(sort_keys=true) }}|{{ {} | tojson(indent=4) }}|{{ [] | tojson }}", {"d": {"z": "ü", "a": [1, {"b": None}], "e": {}}}),
    ("filter_tojson_separators", "{{ d | tojson(separators=(',', ':')) }}|{{ d | tojson(indent=4) }}", {"d": {"a": [1, 2], "b": "x"}}),
    ("filter_length", "{{ 'abc' | length }}{{ [1, 2] | count }}{{ {'a': 1} | length }}{{ undefined_var | length }}", {}),
    ("filter_join_first_last", "{{ ['a', 'b'] | join(', ') }}|{{ [1, 2] | join }}|{{ xs | first }}{{ xs | last }}|{{ 'abc' | first }}|{{ users | join(', ', attribute='name') }}", {"xs": [3, 4, 5], "users": [{"name": "a"}, {"name": "b"}]}),
    ("filter_default", "{{ x | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ y | d('e') }}|{{ 0 | default(5) }}", {"y": "set"}),
    ("filter_items_dictsort", "{{ d | items | map('join', '=') | join(',') }}|{{ d | dictsort | map('first') | join }}|{% for k, v in d | dictsort(reverse=true) %}{{ k }}{{ v }}{% endfor %}|{{ d | dictsort(by='value') | map('last') | list }}", {"d": {"b": 2, "A": 3, "c": 1}}),
    ("filter_selectattr", "{{ ms | selectattr('role', 'equalto', 'user') | list | length }}|{{ ms | rejectattr('role', 'equalto', 'user') | map(attribute='content') | list }}|{{ ms | selectattr('tool_calls') | list | length }}|{{ ms | selectattr('tool_calls', 'defined') | list | length }}", {"ms": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool_calls": [1]}, {"role": "user", "content": "c"}]}),
    ("filter_map", "{{ ['a', 'B'] | map('upper') | list }}|{{ ms | map(attribute='x', default='-') | list }}|{{ [[1, 2], [3]] | map('length') | list }}|{{ ['a b', 'c'] | map('replace', ' ', '_') | join }}", {"ms": [{"x": 1}, {}]}),
    ("filter_select", "{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [0, 1, '', 'a'] | select | list }}|{{ [1, 2, 3] | reject('even') | list }}|{{ [1, 5, 3] | select('gt', 2) | list }}", {}),
    ("filter_conversions", "{{ '42' | int }}{{ '4.7' | int }}{{ 'x' | int }}{{ 'x' | int(7) }}{{ 3.9 | int }}|{{ '2.5' | float }}{{ 3 | float }}{{ 'q' | float }}|{{ 12 | string }}{{ [1] | string }}|{{ 'ab' | list }}|{{ -3 | abs }}{{ -2.5 | abs }}", {}),
    ("filter_round", "{{ 2.5 | round }}|{{ 3.5 | round }}|{{ 2.675 | round(2) }}|{{ 2.1 | round(method='ceil') }}|{{ 2.9 | round(0, 'floor') }}|{{ 7 | round }}", {}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(width='>', blank=true) }}|{{ 'x\\n' | indent(first=true) }}", {}),
    ("filter_unique_sort_reverse", "{{ ['a', 'B', 'A', 'b', 'c'] | unique | list }}|{{ ['b', 'C', 'a'] | sort }}|{{ ['b', 'C', 'a'] | sort(case_sensitive=true) }}|{{ [3, 1, 2] | sort(reverse=true) }}|{{ us | sort(attribute='n') | map(attribute='n') | list }}|{{ [1, 2, 3] | reverse | list }}|{{ 'abc' | reverse }}", {"us": [{"n": 2}, {"n": 1}]}),
    ("filter_misc", "{{ 'one two  three' | wordcount }}|{{ '<b>' | safe }}|{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ [1, 2, 3] | sum }}|{{ '<a & b>' | e }}", {}),
    # more edge cases
    ("loop_set_across_iterations", "{% for x in [1, 2, 3] %}{% if loop.first %}{% set seen = x %}{% endif %}[{{ seen }}]{% endfor %}", {}),
    ("set_in_if_at_top", "{% if true %}{% set a = 1 %}{% endif %}{{ a }}", {}),
    ("loop_var_after_loop", "{% for x in [1, 2] %}{% endfor %}[{{ x }}]", {}),
    ("loop_unpack_pairs", "{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }},{% endfor %}", {}),
    ("loop_over_string_length", "{% for c in 'héllo' %}{{ c }}.{% endfor %}", {}),
    ("tojson_ensure_ascii", "{{ 'é😀' | tojson(ensure_ascii=true) }}|{{ '\u2028\x7f' | tojson }}", {}),
    ("tojson_undefined", "{{ nope | tojson }}", {}),
    ("tojson_float_int", "{{ {'a': 1.0, 'b': 3, 'c': 1e100, 'd': -0.5} | tojson }}", {}),
    ("string_filter_dict", "{{ {'a': 'it\'s'} | string }}|{{ [1, 2] | join(', ') }}", {}),
    ("braces_in_strings", "{{ '}}' }}{{ '{%' }}{{ {'k': '}}'}['k'] }}", {}),
    ("comment_with_tags", "a{# {% if %} {{ x }} #}b", {}),
    ("lstrip_tabs", "x\n\t \t{% if true %}\n\ty{% endif %}", {}),
    ("block_at_end_with_spaces", "x\n  {% if true %}y{% endif %}   ", {}),
    ("minus_raw", "a  {%- raw -%}  r  {%- endraw -%}  b", {}),
    ("var_then_newline", "{{ 'a' }}\n{{ 'b' }}\n", {}),
    ("nested_namespace_list", "{% set ns = namespace(items=[]) %}{% for x in [1, 2] %}{% set ns.items = ns.items + [x * 10] %}{% endfor %}{{ ns.items }}", {}),
    ("sameas_none", "{{ none is sameas none }}{{ x is sameas false }}", {"x": False}),
    ("negative_step_slices", "{{ xs[3:0:-1] }}{{ xs[-1::-2] }}{{ 'abcdef'[-2:] }}{{ 'abc'[5:] }}[{{ ''[::-1] }}]", {"xs": [0, 1, 2, 3, 4]}),
    ("int_float_mix", "{{ 1 + 1.5 }} {{ 3 * 1.0 }} {{ 2 ** 0.5 }} {{ 7 / 7 }} {{ true + true }} {{ 10 // 3.0 }} {{ -7.5 % 2 }}", {}),
    ("string_compare_ops", "{{ 'abc' == 'abc' }}{{ 'B' < 'a' }}{{ 'é' > 'z' }}{{ 'aa' < 'ab' }}", {}),
    ("ternary_undefined_print", "[{{ 'x' if false }}][{{ (none if false) is defined }}]", {}),
    ("chained_filters_tests", "{{ ms | map(attribute='role') | select('equalto', 'user') | list | length is odd }}", {"ms": [{"role": "user"}, {"role": "assistant"}, {"role": "user"}]}),
    ("macro_kwargs_missing", "{% macro m(a, b) %}[{{ a }}|{{ b }}|{{ b is defined }}]{% endmacro %}{{ m(1) }}", {}),
    ("message_content_list", "{% for part in m.content %}{% if part.type == 'text' %}{{ part.text }}{% endif %}{% endfor %}{{ m.content is string }}{{ m.content is iterable }}", {"m": {"content": [{"type": "text", "text": "hi"}, {"type": "image"}]}}),
    ("items_on_undefined", "{% for k, v in nope | items %}x{% endfor %}ok", {}),
    ("dict_get_on_message", "{{ m.get('tool_calls') }}{{ m.get('tool_calls', []) | length }}{{ not m.get('tool_calls') }}", {"m": {"role": "assistant"}}),
    ("in_dict_key", "{{ 'tool_calls' in m }}{{ 'role' in m }}", {"m": {"role": "assistant"}}),
    ("trim_unicode", "[{{ '\u3000 x \u00a0\n' | trim }}][{{ 'xyxhixy' | trim('xy') }}]", {}),
    ("upper_sharp_s", "{{ 'straße' | upper }}{{ 'İ' | lower | length }}", {}),
    ("title_apostrophe", "{{ \"they're o'neil\" | title }}|{{ \"they're o'neil\".title() }}", {}),
    ("split_maxsplit_whitespace", "{{ '  a b  c  '.split(none, 1) }}{{ 'a,b,c'.rsplit(',', 1) }}", {}),
    ("int_parse", "{{ ' 12 ' | int }}{{ '0x1A' | int(0, 16) }}{{ '1_000' | int }}{{ true | int }}", {}),
    ("join_nonstrings", "{{ [1, none, true] | join('-') }}", {}),
    ("list_index_count", "{{ [1, 2, 2].count(2) }}{{ ['a', 'b'].index('b') }}", {}),
    ("range_negative", "{{ range(-3) | list }}{{ range(0, 10, 3) | list }}", {}),
    ("float_literal_forms", "{{ 1_000 }} {{ 1e3 }} {{ 2.50 }} {{ 0.1e-2 }}", {}),
    ("unknown_test_error", "{{ 1 is frobnicated }}", {}),
    ("getitem_int_on_dict", "[{{ d[0] }}]", {"d": {"0": "zero"}}),
    ("search_methods", "{{ 'abcabc'.rfind('bc') }}{{ 'abc'.find('') }}{{ 'abc'.rfind('') }}{{ 'abc'.count('') }}{{ 'a::b::::c'.split('::') }}{{ 'a::b::c'.split('::', 1) }}{{ 'a::b::c'.rsplit('::', 1) }}{{ 'aaaa'.count('aa') }}{{ 'ab'.replace('', '-') }}", {}),
    ("loop_cycle", "{% for x in range(5) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}", {}),
    ("range_fn", "{{ range(3) | list }}{{ range(1, 7, 2) | list }}{{ range(5, 0, -2) | list }}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S %b %B %a %A %d %j %y %I%p') }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }}", {}),
    # undefined semantics and errors
    ("undefined_print", "[{{ nope }}][{{ nope | trim }}][{{ d.nope }}][{% if nope %}t{% else %}f{% endif %}][{% for x in nope %}x{% endfor %}]", {"d": {}}),
    ("undefined_attr_error", "{{ nope.attr }}", {}),
    ("undefined_add_error", "{{ nope + 'x' }}", {}),
    ("undefined_item_error", "{{ d.missing['x'] }}", {"d": {}}),
    ("none_attr", "[{{ n.attr }}][{{ n.attr is defined }}]", {"n": None}),
    ("precedence_concat_binds_tighter", "{{ 'a' ~ 1 + 2 }}", {}),
    ("type_error_concat", "{{ 'a' + 1 }}", {}),
    ("type_error_iterate_none", "{% for x in n %}{% endfor %}", {"n": None}),
    ("raise_exception", "{{ raise_exception('Bad role: ' ~ r) }}", {"r": "robot"}),
    ("division_by_zero", "{{ 1 / 0 }}", {}),
    ("sandbox_dunder", "{{ ''.__class__ }}", {}),
    ("sandbox_append", "{% set xs = [] %}{{ xs.append(1) }}", {}),
    ("sandbox_range", "{% for i in range(10**9) %}{% endfor %}", {}),
    ("syntax_error_unclosed", "{% if x %}never closed", {}),
    ("syntax_error_bad_expr", "line one\n{{ 1 + }}", {}),
    ("syntax_error_unknown_tag", "{% frobnicate %}", {}),
    ("syntax_error_unknown_filter", "{{ 1 | frobnicate }}", {}),
]



def random_whitespace_snippets(count=200, seed=1234):
    """Random mixes of text, whitespace and tags with every whitespace-control marker, to pin down
    trim_blocks / lstrip_blocks / '-' / '+' handling of the lexer."""
    import random
    rng = random.Random(seed)
    texts = ["", "x", " ", "  ", "\t", "\n", "\n  ", "  \n", "a b\n", "\n\n", " \t \n\t"]
    def tag(body, kind="%"):
        left = rng.choice(["", "-", "+"]) if kind != "{" else rng.choice(["", "-"])
        right = rng.choice(["", "-", "+"]) if kind != "{" else rng.choice(["", "-"])
        opener, closer = {"%": ("{%", "%}"), "#": ("{#", "#}"), "{": ("{{", "}}")}[kind]
        return f"{opener}{left} {body} {right}{closer}"
    def block(depth):
        parts = []
        for _ in range(rng.randint(1, 4)):
            parts.append(rng.choice(texts))
            choice = rng.random()
            if choice < 0.3 and depth < 3:
                parts.append(tag(rng.choice(["if true", "if false", "for i in [1, 2]"])))
                inner = block(depth + 1)
                closing = "endfor" if parts[-1].find("for") >= 0 else "endif"
                parts.append(inner)
                if closing == "endif" and rng.random() < 0.4:
                    parts.append(tag("else"))
                    parts.append(block(depth + 1))
                parts.append(tag(closing))
            elif choice < 0.5:
                parts.append(tag("'v'", "{"))
            elif choice < 0.65:
                parts.append(tag("comment", "#"))
            elif choice < 0.75:
                parts.append(tag("set a = 1"))
            elif choice < 0.8:
                parts.append(tag("raw") + rng.choice(texts) + "r" + rng.choice(texts) + tag("endraw"))
            parts.append(rng.choice(texts))
        return "".join(parts)
    return [(f"random_whitespace_{i:03d}", block(0), {}) for i in range(count)]


def main():
    env = environment()
    (FIXTURES / "conversations.json").write_text(
        json.dumps(CONVERSATIONS, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = []
    for path in sorted(FIXTURES.glob("*.jinja")):
        source = path.read_text(encoding="utf-8")
        template = env.from_string(source)
        for conversation in CONVERSATIONS:
            for agp in (False, True):
                record = {"template": path.name, "conversation": conversation["id"], "add_generation_prompt": agp}
                try:
                    record["output"] = template.render(
                        messages=conversation["messages"], tools=conversation.get("tools"), documents=None,
                        add_generation_prompt=agp, bos_token=BOS, eos_token=EOS)
                except Exception as error:  # the expected outcome for some pairs
                    record["error"] = {"type": type(error).__name__, "message": str(error)}
                lines.append(json.dumps(record, ensure_ascii=False))
    (FIXTURES / "expected.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    snippet_lines = []
    for snippet_id, source, context in SNIPPETS + random_whitespace_snippets():
        record = {"id": snippet_id, "template": source, "context": context}
        try:
            record["output"] = env.from_string(source).render(**context)
        except Exception as error:
            record["error"] = {"type": type(error).__name__, "message": str(error)}
        snippet_lines.append(json.dumps(record, ensure_ascii=False))
    (FIXTURES / "snippets.jsonl").write_text("\n".join(snippet_lines) + "\n", encoding="utf-8")
    errors = sum('"error"' in line for line in lines)
    print(f"{len(lines)} renderings, {errors} raised; {len(snippet_lines)} snippets")


if __name__ == "__main__":
    main()
