#!/usr/bin/env python3
"""Chat requests with tools, rendered with jinja2 the way `feather serve` (and llama.cpp's server)
hands them to a chat template: `tools` as the client sent them, each message as {role, content,
tool_calls?, tool_call_id?, name?} with content None for an assistant turn that only calls tools,
and each call's `function.arguments` string parsed into an object (templates iterate and tojson it).

Writes Tests/Fixtures/templates/tool_requests.jsonl: one line per template x request: the template
file, the request body as a client sends it (OpenAI wire shape), and jinja2's output or exception.
The jinja2 environment is template_fixtures.py's (transformers' apply_chat_template configuration).

Usage: python3 -m venv /tmp/venv-j && /tmp/venv-j/bin/pip install jinja2==3.1.6
       /tmp/venv-j/bin/python scripts/oracle/tool_template_fixtures.py
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from template_fixtures import BOS, EOS, FIXTURES, environment  # noqa: E402

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "max_days": {"type": "integer", "minimum": 1}},
        "required": ["city"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current time in a time zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}

REQUESTS = [
    {"id": "tools_offered", "body": {"tools": [WEATHER, TIME], "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Zürich?"}]}},
    {"id": "call_and_result", "body": {"tools": [WEATHER], "messages": [
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "abcDEF123", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"unit\": \"celsius\", \"city\": \"Zürich\"}"}}]},
        {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_weather", "content": "{\"temp\": 21.5}"}]}},
    {"id": "parallel_calls", "body": {"tools": [TIME], "messages": [
        {"role": "user", "content": "Time in Tokyo and UTC?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tokyo0001", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}},
            {"id": "utc000002", "type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"UTC\"}"}}]},
        {"role": "tool", "tool_call_id": "tokyo0001", "content": "18:00"},
        {"role": "tool", "tool_call_id": "utc000002", "content": "09:00"},
        {"role": "assistant", "content": "Tokyo 18:00, UTC 09:00."},
        {"role": "user", "content": "Thanks"}]}},
]

TEMPLATES = [
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
    "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja",
]


def template_message(m):
    """A wire message as the server passes it to the template."""
    calls = m.get("tool_calls") or []
    content = m.get("content")
    out = {"role": m["role"], "content": None if (calls and not content) else (content or "")}
    if calls:
        shaped = []
        for c in calls:
            args = c["function"]["arguments"]
            try:
                parsed = json.loads(args)
                args = parsed if isinstance(parsed, dict) else args
            except ValueError:
                pass
            shaped.append({"id": c["id"], "type": "function", "function": {"name": c["function"]["name"], "arguments": args}})
        out["tool_calls"] = shaped
    if "tool_call_id" in m:
        out["tool_call_id"] = m["tool_call_id"]
    if "name" in m:
        out["name"] = m["name"]
    return out


def main():
    env = environment()
    lines = []
    for name in TEMPLATES:
        template = env.from_string((FIXTURES / name).read_text())
        for req in REQUESTS:
            body = req["body"]
            context = {"messages": [template_message(m) for m in body["messages"]], "tools": body.get("tools"),
                       "documents": None, "add_generation_prompt": True, "bos_token": BOS, "eos_token": EOS}
            try:
                result = {"output": template.render(**context)}
            except Exception as e:  # noqa: BLE001 - the fixture records what jinja2 raised
                result = {"error": {"type": type(e).__name__, "message": str(e)}}
            lines.append(json.dumps({"template": name, "request": req["id"], "body": body, **result}, ensure_ascii=False))
    (FIXTURES / "tool_requests.jsonl").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} cases")


if __name__ == "__main__":
    main()
