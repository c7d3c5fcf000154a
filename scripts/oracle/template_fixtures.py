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
    errors = sum('"error"' in line for line in lines)
    print(f"{len(lines)} renderings, {errors} raised")


if __name__ == "__main__":
    main()
