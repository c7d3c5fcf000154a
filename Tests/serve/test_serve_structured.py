"""Structured output through `feather serve`, checked with the official openai client and the
reference validator `jsonschema`: every reply to `response_format` json_object parses as a JSON object,
every reply to json_schema validates against its schema (and keeps the schema's property order), on
both embedded models, 20 prompts each, greedy; schemas the grammar cannot enforce get a clear 400.
"""
import concurrent.futures
import json
import unittest
from typing import List, Literal, Optional

import jsonschema
import openai
import pydantic

from serve_support import Server, post

SMOL = "smollm2-135m"
GEMMA = "gemma3-270m"

TOPICS = [
    "a cat", "the city of Paris", "a pizza recipe", "a used car for sale", "a weather forecast for tomorrow",
    "a science fiction book", "a football match result", "a laptop", "a hiking trail", "a job applicant",
    "a birthday party", "a museum", "a movie", "a smartphone", "a train timetable entry",
    "a coffee order", "a planet", "a music album", "a hotel room", "a bank transaction",
]

SHOTS = [
    ("a tree", {"name": "tree", "description": "A tall plant with a wooden trunk."}),
    ("a bicycle", {"name": "bicycle", "description": "A vehicle with two wheels and pedals."}),
    ("a bank loan", {"name": "bank loan", "description": "Money borrowed from a bank, paid back with interest."}),
]

SCHEMAS = [
    {"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 40},
        "kind": {"type": "string", "enum": ["person", "place", "thing", "event"]},
        "rating": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "minItems": 1, "maxItems": 3},
    }, "required": ["name", "kind", "rating", "tags"], "additionalProperties": False},
    {"type": "object", "properties": {
        "title": {"type": "string", "maxLength": 60},
        "price": {"type": "number"},
        "available": {"type": "boolean"},
        "note": {"anyOf": [{"type": "string", "maxLength": 40}, {"type": "null"}]},
    }, "required": ["title", "price", "available", "note"], "additionalProperties": False},
    {"type": "object", "properties": {
        "summary": {"type": "string", "maxLength": 80},
        "details": {"type": "object", "properties": {
            "count": {"type": "integer"},
            "unit": {"type": "string", "maxLength": 12},
        }, "required": ["count", "unit"], "additionalProperties": False},
    }, "required": ["summary", "details"], "additionalProperties": False},
    {"type": "object", "properties": {
        "answer": {"type": "string", "enum": ["yes", "no", "maybe"]},
        "confidence": {"type": "number"},
        "reasons": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 2},
    }, "required": ["answer", "confidence", "reasons"], "additionalProperties": False},
]


class Item(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=30)
    kind: Literal["fruit", "vegetable", "other"]
    grams: int
    organic: Optional[bool]


class Basket(pydantic.BaseModel):
    items: List[Item] = pydantic.Field(max_length=2)


class StructuredOutputTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SMOL, GEMMA, "--parallel", "4", "--ctx", "1024", "-t", "2")
        cls.client = openai.OpenAI(base_url=cls.server.base + "/v1", api_key="unused", max_retries=0, timeout=600)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"feather serve exited with {code} after SIGTERM"

    def ask(self, model, content, **kw):
        kw.setdefault("temperature", 0)
        return self.client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}],
                                                   max_tokens=400, **kw)

    def all_at_once(self, fn, items):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            return list(pool.map(fn, items))

    def check_json_object(self, model):
        # JSON mode takes no schema, so nothing bounds the object but the model: the prompts show three
        # answers first (Gemma 3 270M is a base model) and frequency_penalty 0.5 keeps greedy decoding
        # of these small models from repeating one phrase until max_tokens (they do with or without
        # a grammar), so every reply can end.
        def one(topic):
            messages = []
            for shown, answer in SHOTS:
                messages += [{"role": "user", "content": f"Describe {shown} as a JSON object."},
                             {"role": "assistant", "content": json.dumps(answer)}]
            messages.append({"role": "user", "content": f"Describe {topic} as a JSON object."})
            return self.client.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=400,
                                                       frequency_penalty=0.5, response_format={"type": "json_object"})
        for topic, r in zip(TOPICS, self.all_at_once(one, TOPICS)):
            choice = r.choices[0]
            self.assertEqual(choice.finish_reason, "stop", f"{model} {topic}: {choice.message.content!r}")
            value = json.loads(choice.message.content)
            self.assertIsInstance(value, dict, f"{model} {topic}")

    def check_json_schema(self, model):
        def one(i):
            schema = SCHEMAS[i % len(SCHEMAS)]
            r = self.ask(model, f"Describe {TOPICS[i]}.",
                         response_format={"type": "json_schema", "json_schema": {"name": f"s{i % len(SCHEMAS)}", "schema": schema, "strict": True}})
            return schema, r
        for i, (schema, r) in enumerate(self.all_at_once(one, range(len(TOPICS)))):
            choice = r.choices[0]
            self.assertEqual(choice.finish_reason, "stop", f"{model} {TOPICS[i]}: {choice.message.content!r}")
            value = json.loads(choice.message.content, object_pairs_hook=lambda pairs: pairs)
            # Properties come in the schema's order (every one is required here).
            self.assertEqual([k for k, _ in value], list(schema["properties"]), f"{model} {TOPICS[i]}")
            jsonschema.validate(json.loads(choice.message.content), schema)

    def test_json_object_smollm2(self):
        self.check_json_object(SMOL)

    def test_json_object_gemma3(self):
        self.check_json_object(GEMMA)

    def test_json_schema_smollm2(self):
        self.check_json_schema(SMOL)

    def test_json_schema_gemma3(self):
        self.check_json_schema(GEMMA)

    def test_pydantic_models_through_the_clients_parse_helper(self):
        # The client turns the model class into a strict json_schema and parses the reply back into it.
        for model in (SMOL, GEMMA):
            r = self.client.chat.completions.parse(model=model, temperature=0, max_tokens=300, response_format=Basket,
                                                   messages=[{"role": "user", "content": "List what is in my shopping basket."}])
            self.assertIsInstance(r.choices[0].message.parsed, Basket, model)

    def test_streamed_reply_is_the_same_json(self):
        fmt = {"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMAS[0]}}
        whole = self.ask(SMOL, "Describe a dog.", response_format=fmt).choices[0].message.content
        stream = self.ask(SMOL, "Describe a dog.", response_format=fmt, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        self.assertEqual(text, whole)
        jsonschema.validate(json.loads(text), SCHEMAS[0])

    def test_schemas_the_grammar_cannot_enforce_are_refused(self):
        cases = [
            ({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x+$"}}}, "the keyword 'pattern'"),
            ({"type": "integer", "minimum": 1}, "the keyword 'minimum'"),
            ({"type": "date"}, "unknown type 'date'"),
            ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ]
        for schema, words in cases:
            with self.assertRaises(openai.BadRequestError) as e:
                self.ask(SMOL, "hi", response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
            self.assertEqual(e.exception.status_code, 400)
            self.assertIn(words, e.exception.body["message"])
            self.assertEqual(e.exception.body["param"], "response_format.json_schema.schema")
            self.assertEqual(e.exception.body["code"], "invalid_json_schema")

    def test_bad_response_formats_are_400(self):
        status, _, body = post(self.server.base + "/v1/chat/completions", {
            "model": SMOL, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x"}}})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["code"], "missing_required_parameter")
        status, _, body = post(self.server.base + "/v1/chat/completions", {
            "model": SMOL, "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "yaml"}})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["param"], "response_format.type")
        status, _, body = post(self.server.base + "/v1/chat/completions", {
            "model": SMOL, "messages": [{"role": "user", "content": "json please"}], "response_format": {"type": "json_object"}, "ignore_eos": True})
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["param"], "ignore_eos")


if __name__ == "__main__":
    unittest.main(verbosity=2)
