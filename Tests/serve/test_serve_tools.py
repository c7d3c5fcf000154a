"""Tool calling through `feather serve` with the official openai client, on a copy of SmolLM2-135M whose
chat template is Qwen 2.5's (the same ChatML tokens; Hermes-style `<tool_call>` blocks).

- A request with tools and a history of an assistant tool call and its result renders exactly the
  prompt jinja2 renders for it (Tests/Fixtures/templates/tool_requests.jsonl): the prompt's token
  count equals /tokenize's count for jinja2's text.
- The model, shown a history in which it answered such questions with a call, calls the tool again
  (greedy): the reply comes back as `tool_calls` with finish_reason "tool_calls", streamed as
  tool_calls deltas that add up to the same call; the call and its result sent back are answered;
  with tool_choice "none" the same reply is content.
- Requests the server refuses: tools for a template that does not take them, a tool_choice naming no
  given function, a tool turn without tool_call_id.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

import jsonschema
import openai
from openai import OpenAI

from serve_support import ROOT, Server, post, run

SMOL = "smollm2-135m"
MODEL = "qwen-tools"
WORK = os.path.join(ROOT, ".build", "serve-test-tools")
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures", "templates")

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def fixture(template, request_id):
    with open(os.path.join(FIXTURES, "tool_requests.jsonl")) as f:
        for line in f:
            record = json.loads(line)
            if record["template"] == template and record["request"] == request_id:
                return record
    raise KeyError((template, request_id))


def call_history(city):
    """A conversation in which the assistant answered each weather question with a call (no results:
    shown results, the 135M model answers in their shape instead; greedy, it calls reliably this way)."""
    messages = [{"role": "system", "content": "You answer every weather question by calling get_weather."}]
    for i, past in enumerate(["Paris", "Rome", "Oslo"]):
        messages += [
            {"role": "user", "content": f"What is the weather in {past}?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_past{i}", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": past})}}]},
        ]
    return messages + [{"role": "user", "content": f"What is the weather in {city}?"}]


class ServeToolsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        model = os.path.join(WORK, MODEL + ".gguf")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gguf-set-template.py"),
                        os.path.join(ROOT, ".models", SMOL + ".gguf"), model,
                        os.path.join(FIXTURES, "Qwen-Qwen2.5-7B-Instruct.jinja")], check=True)
        cls.server = Server(model, os.path.join(ROOT, ".models", SMOL + ".gguf"), "--ctx", "2048", "-t", "2")
        cls.client = OpenAI(base_url=cls.server.base + "/v1", api_key="unused", max_retries=0)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(WORK, ignore_errors=True)

    def tokens(self, text):
        status, _, body = post(self.server.base + "/tokenize", {"model": MODEL, "content": text, "add_special": True})
        self.assertEqual(status, 200, body)
        return len(body["tokens"])

    def test_prompt_with_tools_and_call_history_is_jinja2s(self):
        for request_id in ["tools_offered", "call_and_result", "parallel_calls"]:
            record = fixture("Qwen-Qwen2.5-7B-Instruct.jinja", request_id)
            r = self.client.chat.completions.create(model=MODEL, max_tokens=1, temperature=0, **record["body"])
            self.assertEqual(r.usage.prompt_tokens, self.tokens(record["output"]), request_id)
            # Without the tools the prompt is shorter: they were rendered.
            plain = self.client.chat.completions.create(model=MODEL, max_tokens=1, temperature=0,
                                                        messages=[m for m in record["body"]["messages"] if m["role"] in ("system", "user")])
            self.assertLess(plain.usage.prompt_tokens, r.usage.prompt_tokens)

    def test_model_call_is_parsed(self):
        r = self.client.chat.completions.create(model=MODEL, messages=call_history("Bern"), tools=[WEATHER],
                                                temperature=0, max_tokens=48)
        choice = r.choices[0]
        self.assertEqual(choice.finish_reason, "tool_calls", choice.message)
        self.assertEqual(len(choice.message.tool_calls), 1)
        call = choice.message.tool_calls[0]
        self.assertEqual(call.type, "function")
        self.assertEqual(call.function.name, "get_weather")
        self.assertEqual(json.loads(call.function.arguments), {"city": "Bern"})
        self.assertTrue(call.id.startswith("call_") and len(call.id) == 29 and call.id[5:].isalnum(), call.id)
        self.assertFalse(choice.message.content)

        # The same reply streamed: tool_calls deltas that add up to the same call, then finish_reason.
        calls, content, finish = {}, "", None
        for chunk in self.client.chat.completions.create(model=MODEL, messages=call_history("Bern"), tools=[WEATHER],
                                                         temperature=0, max_tokens=48, stream=True):
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for d in delta.tool_calls or []:
                c = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                if d.id:
                    c["id"] = d.id
                if d.function and d.function.name:
                    c["name"] += d.function.name
                if d.function and d.function.arguments:
                    c["arguments"] += d.function.arguments
            finish = chunk.choices[0].finish_reason or finish
        self.assertEqual(finish, "tool_calls")
        self.assertEqual(content.strip(), "")
        self.assertEqual(list(calls), [0])
        self.assertEqual(calls[0]["name"], "get_weather")
        self.assertEqual(calls[0]["arguments"], call.function.arguments)
        self.assertTrue(calls[0]["id"].startswith("call_"))

        # The call and its result go back into the conversation: the model answers from the result.
        history = call_history("Bern") + [choice.message.model_dump(exclude_none=True),
                                          {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp": 7})}]
        after = self.client.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER], temperature=0, max_tokens=24)
        self.assertIn(after.choices[0].finish_reason, ("stop", "length", "tool_calls"))
        self.assertGreater(after.usage.prompt_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)

    def test_tool_choice_none_leaves_the_reply_as_content(self):
        r = self.client.chat.completions.create(model=MODEL, messages=call_history("Bern"), tools=[WEATHER],
                                                tool_choice="none", temperature=0, max_tokens=48)
        self.assertIsNone(r.choices[0].message.tool_calls)
        self.assertIn("<tool_call>", r.choices[0].message.content)
        self.assertNotEqual(r.choices[0].finish_reason, "tool_calls")

    def test_forced_calls_are_always_valid_calls(self):
        # Without a history of calls the model answers in prose; tool_choice "required" or a named
        # function holds the reply to one call of the template's shape (grammar-constrained decoding),
        # its arguments valid under the tool's parameters (checked with jsonschema), whole and streamed.
        time_tool = {"type": "function", "function": {
            "name": "get_time", "description": "The time in a time zone.",
            "parameters": {"type": "object", "properties": {"zone": {"type": "string", "enum": ["UTC", "CET", "PST"]},
                                                            "seconds": {"type": "boolean"}},
                           "required": ["zone", "seconds"], "additionalProperties": False}}}
        # Strings bounded: greedy, the 135M model repeats a word inside an unbounded string until max_tokens.
        weather = {"type": "function", "function": {**WEATHER["function"], "parameters": {
            "type": "object", "properties": {"city": {"type": "string", "maxLength": 24}}, "required": ["city"]}}}
        tools = [weather, time_tool]
        user = [{"role": "user", "content": "Tell me a short story about a dragon."}]
        free = self.client.chat.completions.create(model=MODEL, messages=user, tools=tools, temperature=0, max_tokens=24)
        self.assertIsNone(free.choices[0].message.tool_calls)  # the model would not call by itself
        for choice_arg, names in [("required", {"get_weather", "get_time"}),
                                  ({"type": "function", "function": {"name": "get_time"}}, {"get_time"})]:
            r = self.client.chat.completions.create(model=MODEL, messages=user, tools=tools, tool_choice=choice_arg,
                                                    temperature=0, max_tokens=96)
            choice = r.choices[0]
            self.assertEqual(choice.finish_reason, "tool_calls", choice.message)
            call = choice.message.tool_calls[0]
            self.assertIn(call.function.name, names)
            schema = next(t["function"]["parameters"] for t in tools if t["function"]["name"] == call.function.name)
            jsonschema.validate(json.loads(call.function.arguments), schema)
            streamed = "".join((d.function.arguments or "") for chunk in self.client.chat.completions.create(
                model=MODEL, messages=user, tools=tools, tool_choice=choice_arg, temperature=0, max_tokens=96, stream=True)
                for d in (chunk.choices[0].delta.tool_calls or []) if d.function)
            self.assertEqual(streamed, call.function.arguments)
        self.assertBadRequest("response_format", "cannot be combined", model=MODEL, messages=user, tools=tools, tool_choice="required",
                              response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}, max_tokens=8)

    def assertBadRequest(self, param, fragment, **kwargs):
        with self.assertRaises(openai.BadRequestError) as e:
            self.client.chat.completions.create(**kwargs)
        self.assertEqual(e.exception.body.get("param"), param, e.exception.body)
        self.assertIn(fragment, e.exception.body.get("message"))

    def test_refusals(self):
        user = [{"role": "user", "content": "Hi"}]
        self.assertBadRequest("tools", "does not use them", model=SMOL, messages=user, tools=[WEATHER], max_tokens=1)
        self.assertBadRequest("tool_choice", "get_time", model=MODEL, messages=user, tools=[WEATHER], max_tokens=1,
                              tool_choice={"type": "function", "function": {"name": "get_time"}})
        self.assertBadRequest("tool_choice", "only allowed when 'tools' are specified", model=MODEL, messages=user,
                              tool_choice="required", max_tokens=1)
        self.assertBadRequest("messages[1].tool_call_id", "tool_call_id", model=MODEL, max_tokens=1,
                              messages=user + [{"role": "tool", "content": "x"}])
        self.assertBadRequest("tools[0].function.name", "pattern", model=MODEL, messages=user, max_tokens=1,
                              tools=[{"type": "function", "function": {"name": "get weather"}}])


if __name__ == "__main__":
    run(ServeToolsTests)
