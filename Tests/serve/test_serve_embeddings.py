"""POST /v1/embeddings against the official openai client and plain HTTP.

One server for the file: smollm2-135m and gemma3-270m, 2 slots, 512-token context. Every vector must
agree with llama.cpp's server on the same input (Tests/Fixtures/embeddings, made by
scripts/oracle/embeddings_fixtures.py) to cosine >= 0.999 and have unit length; base64 answers must carry
the same float32 numbers; a generation running meanwhile must answer as it does alone.
"""
import base64
import concurrent.futures
import json
import math
import os
import struct
import unittest

import openai

from serve_support import ROOT, Server, get, post, run

CTX = 512
SMOL = "smollm2-135m"
GEMMA = "gemma3-270m"
MODELS = [SMOL, GEMMA]


def fixture(model):
    with open(os.path.join(ROOT, f"Tests/Fixtures/embeddings/{model}.json"), encoding="utf-8") as f:
        return json.load(f)


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def f32(values):
    """The numbers as float32 (JSON floats parse as float64)."""
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


def unpack(b64):
    raw = base64.b64decode(b64)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw))


class EmbeddingsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SMOL, GEMMA, "--parallel", "2", "--ctx", str(CTX), "-t", "2")
        cls.base = cls.server.base
        cls.client = openai.OpenAI(base_url=cls.base + "/v1", api_key="unused", max_retries=0, timeout=300)
        cls.fixtures = {m: fixture(m) for m in MODELS}

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"feather serve exited with {code} after SIGTERM"

    def test_float_vectors_equal_llama_servers(self):
        for model in MODELS:
            least = 1.0
            for req in self.fixtures[model]["requests"]:
                out = self.client.embeddings.create(model=model, input=req["input"], encoding_format="float")
                self.assertEqual(out.object, "list")
                self.assertEqual(out.model, model)
                self.assertEqual(out.usage.prompt_tokens, req["prompt_tokens"])
                self.assertEqual(out.usage.total_tokens, req["prompt_tokens"])
                self.assertEqual([d.index for d in out.data], list(range(len(req["embeddings"]))))
                for d, theirs in zip(out.data, req["embeddings"]):
                    self.assertEqual(d.object, "embedding")
                    self.assertEqual(len(d.embedding), len(theirs))
                    self.assertAlmostEqual(math.sqrt(sum(x * x for x in d.embedding)), 1, delta=1e-5)
                    c = cosine(d.embedding, theirs)
                    least = min(least, c)
                    self.assertGreaterEqual(c, 0.999, f"{model}: {str(req['input'])[:40]!r}")
            print(f"  {model}: least cosine to llama-server {least:.6f}")

    def test_default_base64_decodes_to_the_float_vectors(self):
        # Without encoding_format the client asks for base64 and decodes it itself.
        inputs = ["Hello, world!", "a second input"]
        for model in MODELS:
            floats = self.client.embeddings.create(model=model, input=inputs, encoding_format="float")
            decoded = self.client.embeddings.create(model=model, input=inputs)
            for a, b in zip(floats.data, decoded.data):
                self.assertEqual(f32(a.embedding), f32(b.embedding))

    def test_raw_base64_is_little_endian_float32(self):
        raw = self.client.embeddings.with_raw_response.create(model=GEMMA, input="Hello, world!", encoding_format="base64")
        body = json.loads(raw.text)
        packed = body["data"][0]["embedding"]
        self.assertIsInstance(packed, str)
        floats = self.client.embeddings.create(model=GEMMA, input="Hello, world!", encoding_format="float")
        self.assertEqual(unpack(packed), f32(floats.data[0].embedding))
        status, _, plain = post(self.base + "/v1/embeddings", {"model": SMOL, "input": ["x", "y"], "encoding_format": "base64"})
        self.assertEqual(status, 200)
        self.assertEqual([len(unpack(d["embedding"])) for d in plain["data"]], [len(self.fixtures[SMOL]["requests"][0]["embeddings"][0])] * 2)

    def test_token_ids_equal_their_text(self):
        req = self.fixtures[SMOL]["requests"][2]
        tokens = req["tokens"][0]
        text = self.client.embeddings.create(model=SMOL, input=req["input"], encoding_format="float").data[0].embedding
        one = self.client.embeddings.create(model=SMOL, input=tokens, encoding_format="float")
        many = self.client.embeddings.create(model=SMOL, input=[tokens, tokens[:3]], encoding_format="float")
        self.assertEqual(one.data[0].embedding, text)
        self.assertEqual(many.data[0].embedding, text)
        self.assertEqual(len(many.data), 2)
        self.assertEqual(many.usage.prompt_tokens, len(tokens) + 3)

    def test_generation_meanwhile_answers_as_alone(self):
        ask = dict(model=SMOL, messages=[{"role": "user", "content": "Name three colours."}], temperature=0, max_tokens=24)
        alone = self.client.chat.completions.create(**ask).choices[0].message.content
        long_inputs = [self.fixtures[SMOL]["requests"][3]["input"]] * 4
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            embeds = [pool.submit(self.client.embeddings.create, model=SMOL, input=long_inputs, encoding_format="float")
                      for _ in range(2)]
            chats = [pool.submit(lambda: self.client.chat.completions.create(**ask).choices[0].message.content) for _ in range(2)]
            answers = [c.result() for c in chats]
            vectors = [e.result().data[0].embedding for e in embeds]
        self.assertEqual(answers, [alone, alone])
        self.assertEqual(vectors[0], vectors[1])
        self.assertEqual([m.id for m in self.client.models.list().data], MODELS)

    def test_errors_are_openai_shaped(self):
        url = self.base + "/v1/embeddings"
        cases = [
            ({"model": SMOL, "input": []}, 400, "input"),
            ({"model": SMOL, "input": ""}, 400, "input"),
            ({"model": SMOL, "input": ["a", ""]}, 400, "input"),
            ({"model": SMOL, "input": [[]]}, 400, "input"),
            ({"model": SMOL, "input": [1, 99999999]}, 400, "input"),
            ({"model": SMOL, "input": {"text": "a"}}, 400, "input"),
            ({"model": SMOL, "input": "a", "dimensions": 64}, 400, "dimensions"),
            ({"model": SMOL, "input": "a", "encoding_format": "int8"}, 400, "encoding_format"),
            ({"model": SMOL, "input": "word " * (CTX + 10)}, 400, "input"),
            ({"model": "no-such-model", "input": "a"}, 404, "model"),
            ({"model": SMOL}, 400, "input"),
        ]
        for body, status, param in cases:
            got, _, answer = post(url, body)
            self.assertEqual(got, status, f"{body!r:.60}: {answer}")
            self.assertEqual(answer["error"]["param"], param, answer)
            self.assertTrue(answer["error"]["message"])
        self.assertIn("maximum context length", post(url, cases[8][0])[2]["error"]["message"])
        self.assertIn("not supported", post(url, cases[6][0])[2]["error"]["message"])
        with self.assertRaises(openai.NotFoundError):
            self.client.embeddings.create(model="no-such-model", input="a")
        with self.assertRaises(openai.BadRequestError):
            self.client.embeddings.create(model=SMOL, input="a", dimensions=8)
        self.assertEqual(get(self.base + "/v1/embeddings")[0], 405)


if __name__ == "__main__":
    run(EmbeddingsTests)
