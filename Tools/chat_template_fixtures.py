#!/usr/bin/env python3
"""Builds Tests/Fixtures/chat_templates/goldens.json (see the README there).

Renders the chat templates stored beside it (`<family>.jinja`, copied from the checkpoints'
`tokenizer_config.json`) on a set of conversations, and a list of small templates that exercise
the Jinja subset Rill implements, with jinja2 set up exactly as transformers'
`apply_chat_template` sets it up (transformers/utils/chat_template_utils.py,
`_compile_jinja_template` and `render_jinja_template`):

- `ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
  extensions=[AssistantTracker, jinja2.ext.loopcontrols])`; the `{% generation %}` tag of
  AssistantTracker renders its body unchanged when no assistant mask is asked for, which is
  what `GenerationTag` below does;
- the filter `tojson` replaced by `json.dumps(x, ensure_ascii=False, indent=indent,
  separators=separators, sort_keys=sort_keys)`;
- the globals `raise_exception(message)` (raises `TemplateError(message)`) and
  `strftime_now(format)`;
- the variables `messages`, `tools=None`, `documents=None`, `add_generation_prompt`, then the
  special tokens (`bos_token`, `eos_token`) and any extra keyword arguments.

One deliberate difference: `strftime_now` reads the fixed time `NOW` instead of the clock, so
that templates that print today's date (Llama 3.2) have stable goldens. The Swift tests pass
the same time to `ChatTemplate.render(…, now:)`.

Run from the repository root (needs `jinja2` >= 3.1, the version transformers requires):

    python3 Tools/chat_template_fixtures.py

Deterministic: the same inputs give the same bytes.
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests/Fixtures/chat_templates")
NOW = datetime(2024, 7, 26, 9, 5, 3)


# MARK: - The environment, as transformers builds it

class GenerationTag(jinja2.ext.Extension):
    """transformers' AssistantTracker without tracking: `{% generation %}…{% endgeneration %}`
    renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()


def render(source, messages, add_generation_prompt, bos_token, eos_token, extra):
    """{"output": text} or {"error": {"kind", "message"}}; kind is "raise_exception" for
    `raise_exception(...)`, else the Python exception's class name."""
    try:
        template = ENV.from_string(source)
        kwargs = {"bos_token": bos_token, "eos_token": eos_token, **extra}
        text = template.render(
            messages=messages, tools=kwargs.pop("tools", None), documents=kwargs.pop("documents", None),
            add_generation_prompt=add_generation_prompt, **kwargs)
        return {"output": text}
    except Exception as e:  # every failure is a golden too: the Swift side must fail as well
        kind = "raise_exception" if type(e) is jinja2.exceptions.TemplateError else type(e).__name__
        return {"error": {"kind": kind, "message": str(e)}}


# MARK: - Conversations

SYSTEM = {"role": "system", "content": "You are a helpful assistant."}
CONVERSATIONS = {
    "system_user": [SYSTEM, {"role": "user", "content": "Hello!"}],
    "user_only": [{"role": "user", "content": "What is 2+2?"}],
    "multi_turn": [
        {"role": "user", "content": "Hi there."},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."},
    ],
    "multi_turn_system": [
        SYSTEM,
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one."},
        {"role": "assistant", "content": "Green."},
        {"role": "user", "content": "Thanks."},
    ],
    "ends_with_assistant": [
        {"role": "user", "content": "Say yes."},
        {"role": "assistant", "content": "Yes."},
    ],
    "empty_content": [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": ""},
    ],
    # Padding and inner whitespace: templates that trim or strip differ here.
    "whitespace": [
        {"role": "system", "content": "  \n system with padding \n\t"},
        {"role": "user", "content": "   \n\t "},
        {"role": "assistant", "content": "  padded answer  "},
        {"role": "user", "content": "\n\nlast\n\n"},
    ],
    "unicode": [
        {"role": "system", "content": "Tu es un assistant. 你好 🌍"},
        {"role": "user", "content": "Ünïcödé: café, naïve, 日本語, עברית, e\u0301, 👩\u200d👩\u200d👧, \u00a0nbsp, \u2028sep"},
    ],
    # Characters that mean something to Jinja, JSON, or the chat formats themselves.
    "quotes_newlines": [
        {"role": "user", "content": "She said \"hi\" and 'bye'\\n (a backslash-n)\n\ttab\r\nCRLF {{ not a tag }} {% raw %} {# no #} <|im_end|> </s> [INST]"},
        {"role": "assistant", "content": "It's \"quoted\".\n"},
        {"role": "user", "content": "\\"},
    ],
    "system_only": [SYSTEM],
    # Roles that do not alternate: the Llama-2, Mistral and Gemma templates raise here.
    "not_alternating": [
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},
    ],
    # No messages at all: most templates index messages[0] and fail on the undefined value.
    "empty": [],
}

# A tool in the OpenAI / transformers JSON-schema form: templates print it with tojson, so key
# order and escaping show.
TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city, \"quoted\" and ünïcode.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
            },
            "required": ["city"],
        },
    },
}]

# family: bos_token, eos_token, extra keyword arguments to render with besides none
# (the checkpoints' special tokens, so the goldens look like real prompts).
FAMILIES = {
    "chatml": ("<s>", "<|im_end|>", []),
    "qwen1.5": ("", "<|im_end|>", []),
    "qwen2.5": ("", "<|im_end|>", [{"tools": TOOLS}]),
    "qwen3": ("", "<|im_end|>", [{"enable_thinking": False}, {"tools": TOOLS}]),
    "llama2-chat": ("<s>", "</s>", []),
    "llama3-instruct": ("<|begin_of_text|>", "<|eot_id|>", []),
    "llama3.1-instruct": ("<|begin_of_text|>", "<|eot_id|>", [{"date_string": "01 Jan 2025"}, {"tools": TOOLS}]),
    "llama3.2-instruct": ("<|begin_of_text|>", "<|eot_id|>", [{"tools": TOOLS, "tools_in_user_message": False}]),
    "mistral-v0.1": ("<s>", "</s>", []),
    "mixtral-v0.1": ("<s>", "</s>", []),
    "mistral-v0.3": ("<s>", "</s>", [{"tools": TOOLS}]),
    "mistral-nemo": ("<s>", "</s>", [{"tools": TOOLS}]),
    "zephyr": ("<s>", "</s>", []),
    "tinyllama": ("<s>", "</s>", []),
    "gemma": ("<bos>", "<eos>", []),
    "gemma2": ("<bos>", "<eos>", []),
    "phi3": ("<s>", "<|endoftext|>", []),
    "phi3.5": ("<s>", "<|endoftext|>", []),
    "smollm2": ("<|im_start|>", "<|im_end|>", []),
    "deepseek-v2": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", []),
    "deepseek-coder": ("<｜begin▁of▁sentence｜>", "<|EOT|>", []),
    "deepseek-r1-distill": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", []),
}


# MARK: - The subset, one behaviour per template

# (name, template, variables). Rendered with messages=[], add_generation_prompt=False,
# bos_token="<s>", eos_token="</s>" and the variables as extra keyword arguments.
EXPRESSIONS = [
    # Whitespace control: trim_blocks, lstrip_blocks, -, +, comments, the final newline.
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter\n", {}),
    ("lstrip_blocks", "  {% if true %}\n  x\n  {% endif %}\n  {{ 'y' }}\n", {}),
    ("lstrip_not_after_text", "a  {% if true %}b{% endif %}", {}),
    ("minus_strips_both_sides", "a \n {%- if true -%} \n b \n {%- endif -%} \n c", {}),
    ("plus_keeps", "  {%+ if true +%}\nx{% endif %}", {}),
    ("variable_minus", "a  {{- 'b' -}}  c {{ 'd' }}\n e", {}),
    ("comments", "a{# one #}b\n  {# two #}\nc {#- three -#} d", {}),
    ("trailing_newline_dropped", "text\n", {}),
    ("two_trailing_newlines", "text\n\n", {}),
    ("crlf_source", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("raw_block", "{% raw %}{{ x }}{% if %}{% endraw %}", {}),
    # Literals and how values print.
    ("literals", "{{ 'a' }}|{{ \"b\" }}|{{ 1 }}|{{ 1.5 }}|{{ true }}|{{ True }}|{{ none }}|{{ None }}|{{ false }}", {}),
    ("string_escapes", r"{{ 'tab\there\nnl \\ \' \" \x41 \u00e9 \U0001F600 \q' }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("numbers", "{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1e3 }} {{ 2.5e-3 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 10 / 4 }} {{ 10 / 5 }}", {}),
    ("list_repr", "{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }}", {}),
    ("tuple_repr", "{{ (1, 2) }} {{ (1,) }} {{ () }}", {}),
    ("dict_repr", "{{ {'a': 1, 'b': \"it's\", 'c': 'q\"uote', 'd': 'both \\' \"'} }}", {}),
    ("repr_escapes", "{{ ['a\\nb', 'tab\\t', '\\x01', 'é', '\\u00a0'] }}", {}),
    ("float_repr", "{{ [1.0, -0.0, 1e22, 123456789.0, 1.5e-7, 3.14159] }}", {}),
    ("undefined_prints_empty", "[{{ nothing }}][{{ messages.missing }}]", {}),
    # Arithmetic and operators.
    ("arithmetic", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** 3 ** 2 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    ("unary", "{{ -3 }} {{ +3 }} {{ - -3 }} {{ -(1 + 2) }}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 * 3 ** 2 }} {{ 10 - 2 - 3 }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true ~ [1] }}", {}),
    ("string_plus", "{{ 'a' + 'b' }} {{ [1] + [2, 3] }} {{ 'ab' * 3 }} {{ [0] * 3 }}", {}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 2 }} {{ 3 > 4 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }}", {}),
    ("in_operator", "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'x' not in 'abc' }} {{ not 'a' in 'abc' }}", {}),
    ("logic", "{{ true and false }} {{ true or false }} {{ not true }} {{ 0 or 'x' }} {{ '' and 1 }} {{ none or [] }}", {}),
    ("inline_if", "{{ 'y' if true else 'n' }} {{ 'y' if 0 else 'n' }} [{{ 'y' if false }}]", {}),
    ("truthiness", "{% for v in [0, 1, '', 'a', [], [0], {}, {'a': 1}, none, 0.0, 0.5] %}{{ 'T' if v else 'F' }}{% endfor %}", {}),
    # Subscripts, attributes, slices.
    ("subscripts", "{{ [1, 2, 3][0] }} {{ [1, 2, 3][-1] }} {{ {'a': 'b'}['a'] }} {{ {'a': 'b'}.a }} {{ 'abc'[1] }} [{{ [1][5] }}] [{{ {'a': 1}.b }}]", {}),
    ("slices", "{{ [1, 2, 3, 4][1:3] }} {{ [1, 2, 3, 4][:2] }} {{ [1, 2, 3, 4][2:] }} {{ [1, 2, 3, 4][::-1] }} {{ 'hello'[::-1] }} {{ 'hello'[1:-1] }} {{ [1, 2, 3, 4, 5][::2] }} {{ [1, 2, 3][-2:] }} {{ 'abc'[5:] }}", {}),
    ("messages_access", "{{ messages | length }}{% for m in conversation %}{{ m.role }}={{ m['content'] }};{% endfor %}", {"conversation": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
    # Tests.
    ("tests", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ none is none }} {{ x is not none }} {{ 'a' is string }} {{ 1 is string }} {{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ 1 is number }} {{ 1.5 is number }} {{ 'a' is number }} {{ true is number }}", {"x": 1}),
    ("tests_more", "{{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ true is true }} {{ 0 is false }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ [] is sequence }} {{ 1 is sameas 1 }} {{ 2 is eq 2 }} {{ 2 is equalto(2) }} {{ 3 is gt 2 }} {{ 'a' is in 'abc' }}", {}),
    ("not_is_binds_test", "{{ not x is defined }} {{ not y is defined }}", {"x": 1}),
    # Filters.
    ("filter_trim", "[{{ '  a b  ' | trim }}][{{ 'xxaxx' | trim('x') }}][{{ '\\n\\t a \\u3000' | trim }}]", {}),
    ("filter_case", "{{ 'hello world' | upper }} {{ 'HeLLo' | lower }} {{ 'hello WORLD' | capitalize }} {{ 'hello wORLD-foo bar_baz' | title }}", {}),
    ("filter_length", "{{ 'abc' | length }} {{ [1, 2] | length }} {{ {'a': 1} | length }} {{ 'héllo' | count }} {{ nothing | length }}", {}),
    ("filter_string", "{{ 1 | string }} {{ none | string }} {{ [1, 'a'] | string }} {{ (1 | string) + 'x' }}", {}),
    ("filter_default", "{{ nothing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }} {{ 'x' | d('d') }} {{ nothing | default }}", {}),
    ("filter_first_last", "{{ [1, 2, 3] | first }} {{ [1, 2, 3] | last }} {{ 'abc' | first }} {{ 'abc' | last }} [{{ [] | first }}]", {}),
    ("filter_join", "{{ [1, 2, 3] | join }} {{ ['a', 'b'] | join(', ') }} {{ 'abc' | join('-') }} {{ [{'n': 'x'}, {'n': 'y'}] | join('/', attribute='n') }}", {}),
    ("filter_replace", "{{ 'aaa' | replace('a', 'b') }} {{ 'aaa' | replace('a', 'b', 2) }} {{ 'abc' | replace('', '-') }}", {}),
    ("filter_items", "{% for k, v in {'b': 1, 'a': [2]} | items %}{{ k }}={{ v }};{% endfor %}", {}),
    ("filter_list", "{{ 'abc' | list }} {{ {'a': 1, 'b': 2} | list }} {{ (1, 2) | list }}", {}),
    ("filter_reverse_sort", "{{ [3, 1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [3, 1, 2] | sort }} {{ ['b', 'A', 'a'] | sort }} {{ [3, 1, 2] | sort(reverse=true) }}", {}),
    ("filter_numbers", "{{ '42' | int }} {{ 'x' | int }} {{ 3.9 | int }} {{ '2.5' | float }} {{ -3 | abs }} {{ [1, 2, 3] | sum }} {{ [3, 1, 2] | min }} {{ [3, 1, 2] | max }} {{ 2.567 | round(2) }} {{ 2.5 | round }}", {}),
    ("filter_unique", "{{ [1, 2, 1, 3, 2] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }}", {}),
    ("filter_select", "{{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ ['a', 'b', 'c'] | reject('equalto', 'b') | list }}", {}),
    ("filter_selectattr", "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'equalto', 'user') | list | length }} {{ msgs | selectattr('flag') | list | length }}",
     {"msgs": [{"role": "user", "content": "a", "flag": True}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]}),
    ("filter_map", "{{ ['a', 'b'] | map('upper') | join }} {{ [{'x': 1}, {}] | map(attribute='x', default=0) | list }}", {}),
    ("filter_tojson", "{{ {'a': [1, 2.5, none, true], 'b': 'é\"\\n</s>'} | tojson }}", {}),
    ("filter_tojson_indent", "{{ {'a': [1, {'b': []}], 'c': {}} | tojson(indent=2) }}", {}),
    ("filter_tojson_options", "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ [1, 2] | tojson(separators=(',', ':')) }} {{ 'é' | tojson(ensure_ascii=true) }} {{ tools | tojson(indent=4) }}",
     {"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]}),
    ("filter_chain_precedence", "{{ 'a' + '  b  ' | trim }} {{ -1 | abs }} {{ [1, 2] | length + 1 }}", {}),
    ("filter_safe_indent", "{{ '<b>' | safe }} {{ 'a\\nb\\n\\nc' | indent(2) }} {{ 'a\\nb' | indent(2, true) }}", {}),
    ("filter_wordcount_center", "{{ 'a b  c' | wordcount }} [{{ 'ab' | center(6) }}]", {}),
    ("filter_dictsort", "{{ {'b': 1, 'a': 2} | dictsort }}", {}),
    ("filter_batch_slice", "{{ [1, 2, 3, 4, 5] | batch(2) | list }}", {}),
    ("filter_format", "{{ '%s-%d' | format('a', 3) }} {{ '%s and %s' % ('x', 'y') }} {{ '%.2f%%' % 3.14159 }} {{ '%5s|%-5s|' % ('a', 'b') }}", {}),
    # Methods.
    ("string_methods", "[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ '\\n\\nab\\n'.lstrip('\\n') }}]", {}),
    ("string_split", "{{ 'a,b,,c'.split(',') }} {{ ' a  b \\n c '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'abc'.split('x') }} {{ ''.split() }} {{ ''.split(',') }}", {}),
    ("string_predicates", "{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} {{ 'a1'.isdigit() }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }}", {}),
    ("string_case_methods", "{{ 'Hello'.lower() }} {{ 'Hello'.upper() }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'a-b'.replace('-', '+') }} {{ 'aaa'.replace('a', 'b', 1) }}", {}),
    ("string_find_count", "{{ 'hello'.find('l') }} {{ 'hello'.find('z') }} {{ 'hello'.count('l') }} {{ 'hello'.rfind('l') }} {{ 'a b'.index(' ') }}", {}),
    ("string_join_method", "{{ ', '.join(['a', 'b']) }} {{ '-'.join('abc') }}", {}),
    ("dict_methods", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {% for k, v in d.items() %}{{ k }}:{{ v }} {% endfor %}", {"d": {"a": 1, "b": "two"}}),
    ("dict_items_direct", "{{ d.items() | list }} {{ d | items | list }}", {"d": {"x": 1}}),
    # Statements.
    ("for_loop_vars", "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("for_prev_next_cycle", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('o', 'e') }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("for_filter", "{% for x in range(10) if x is odd %}{{ x }}{{ '!' if loop.last }}{% endfor %}", {}),
    ("for_unpack", "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }} {% endfor %}{% for k, v in {'x': 1}.items() %}{{ k }}{{ v }}{% endfor %}", {}),
    ("for_string_and_dict", "{% for c in 'abc' %}{{ c }}.{% endfor %}{% for k in {'p': 1, 'q': 2} %}{{ k }}{% endfor %}", {}),
    ("for_nested_loop", "{% for i in [1, 2] %}{% for j in [1, 2] %}{{ loop.index }}{{ i }}{{ j }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("for_scope", "{% set x = 1 %}{% for i in range(3) %}{{ x }}{% set x = x + 1 %}{{ x }},{% endfor %}{{ x }}", {}),
    ("for_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("range_forms", "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ range(0) | list }}", {}),
    ("if_elif_else", "{% for v in [1, 2, 3] %}{% if v == 1 %}one{% elif v == 2 %}two{% else %}other{% endif %} {% endfor %}", {}),
    ("set_forms", "{% set a = 1 %}{% set b, c = [2, 3] %}{% set d = 'x', 'y' %}{{ a }}{{ b }}{{ c }}{{ d }}", {}),
    ("set_block", "{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]{% set up | upper %}abc{% endset %}{{ up }}", {}),
    ("namespace", "{% set ns = namespace(found=false, n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% if i == 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}", {}),
    ("namespace_empty", "{% set ns = namespace() %}{% set ns.x = 'v' %}{{ ns.x }}", {}),
    ("macro", "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(name='c', punct='.') }}", {}),
    ("macro_recursion", "{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}", {}),
    ("filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    ("with_block", "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", {}),
    ("generation_tag", "{% generation %}kept{% endgeneration %}", {}),
    ("dict_literal_in_block", "{% set d = {'a': {'b': 1}} %}{{ d.a.b }}{{ {'x': {'y': 2}}['x']['y'] }}", {}),
    ("strftime", "{{ strftime_now('%Y-%m-%d %H:%M:%S') }} {{ strftime_now('%d %b %Y') }} {{ strftime_now('%B %A %a %y %j %I %p %%') }}", {}),
    ("loop_over_messages_reversed", "{% for m in conv[::-1] %}{{ m.role }}{% endfor %}", {"conv": [{"role": "a"}, {"role": "b"}]}),
    ("set_messages_slice", "{% set loop_messages = msgs[1:] %}{{ loop_messages | length }}{{ msgs[0]['content'] | trim }}", {"msgs": [{"content": " s "}, {"content": "u"}]}),
    # Errors that must fail on the Swift side as well.
    ("error_raise_exception", "{{ raise_exception('Custom message: ' ~ 42) }}", {}),
    ("error_type_concat", "{{ 'a' + 1 }}", {}),
    ("error_undefined_attribute", "{{ nothing.attr }}", {}),
    ("error_undefined_arithmetic", "{{ nothing + 1 }}", {}),
    ("error_compare_types", "{{ 1 < 'a' }}", {}),
    ("error_division_by_zero", "{{ 1 / 0 }}", {}),
    ("error_unknown_filter", "{{ 'a' | no_such_filter }}", {}),
    ("error_unknown_test", "{{ 'a' is no_such_test }}", {}),
    ("unknown_filter_in_untaken_if", "{% if false %}{{ 'a' | no_such_filter }}{% endif %}ok", {}),
    ("error_unknown_filter_in_taken_if", "{% if true %}{{ 'a' | no_such_filter }}{% endif %}", {}),
    ("error_mutating_list", "{% set a = [] %}{{ a.append(1) }}", {}),
    ("error_range_too_big", "{{ range(200000) | length }}", {}),
    ("error_unclosed_if", "{% if true %}never closed", {}),
    ("error_unclosed_for", "{% for x in y %}", {}),
    ("error_unclosed_variable", "{{ 'a' ", {}),
    ("error_unknown_tag", "{% frobnicate %}", {}),
    ("error_bad_expression", "{{ 1 + }}", {}),
    ("error_unbalanced", "{{ (1 }}", {}),
    ("error_unclosed_comment", "{# never", {}),
    ("error_unclosed_string", "{{ 'abc }}", {}),
    ("error_endfor_without_for", "{% endfor %}", {}),
    ("error_tojson_undefined", "{{ nothing | tojson }}", {}),
    ("string_index_by_name_is_undefined", "[{{ 'abc'['x'] }}][{{ none.x }}][{{ none['x'] }}]", {}),
    ("error_call_non_callable", "{{ 'abc'() }}", {}),
]


def main():
    families = {}
    cases = []
    for family, (bos, eos, extras) in FAMILIES.items():
        path = os.path.join(FIXTURES, family + ".jinja")
        with open(path, encoding="utf-8", newline="") as f:
            source = f.read()
        families[family] = {"bos_token": bos, "eos_token": eos}
        for extra in [{}] + extras:
            for name, messages in CONVERSATIONS.items():
                for agp in (True, False):
                    case = {"family": family, "conversation": name, "add_generation_prompt": agp, "extra": extra}
                    case.update(render(source, messages, agp, bos, eos, extra))
                    cases.append(case)
    expressions = []
    for name, source, variables in EXPRESSIONS:
        case = {"name": name, "template": source, "variables": variables}
        case.update(render(source, [], False, "<s>", "</s>", variables))
        expressions.append(case)
    out = {
        "generator": "Tools/chat_template_fixtures.py",
        "jinja2": jinja2.__version__,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "families": families,
        "conversations": CONVERSATIONS,
        "cases": cases,
        "expressions": expressions,
    }
    with open(os.path.join(FIXTURES, "goldens.json"), "w", encoding="utf-8", newline="\n") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    failed = sum(1 for c in cases if "error" in c)
    print(f"{len(cases)} template cases ({failed} fail in jinja2 too), {len(expressions)} expression cases", file=sys.stderr)


if __name__ == "__main__":
    main()
