"""`feather serve` against real clients: the official openai package, curl, plain HTTP.

One server for the file: smollm2-135m and gemma3-270m, 4 slots, 512-token context.
Greedy answers are the reference: under any load every response must equal the one the same
request gets alone, and echo logprobs must equal `feather run --json` on the same prompt.
"""
import concurrent.futures
import json
import os
import subprocess
import threading
import time
import unittest
import http.client

import openai

from serve_support import FEATHER, ROOT, Server, get, metric, post, run

CTX = 512
SMOL = "smollm2-135m"
GEMMA = "gemma3-270m"


class ServeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SMOL, GEMMA, "--parallel", "4", "--ctx", str(CTX), "-t", "2")
        cls.base = cls.server.base
        cls.client = openai.OpenAI(base_url=cls.base + "/v1", api_key="unused", max_retries=0, timeout=300)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"feather serve exited with {code} after SIGTERM"

    def chat(self, content, **kw):
        return self.client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": content}],
                                                   temperature=0, **kw)

    # Models and plain endpoints

    def test_models_lists_every_model(self):
        ids = [m.id for m in self.client.models.list().data]
        self.assertEqual(ids, [SMOL, GEMMA])

    def test_health_and_metrics(self):
        self.assertEqual(get(self.base + "/health")[2], {"status": "ok"})
        self.chat("Hello", max_tokens=2)
        status, headers, text = get(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", headers["Content-Type"])
        for name in ["feather_requests_total", "feather_queue_depth", "feather_generated_tokens_total",
                     "feather_time_to_first_token_seconds_count", "feather_request_duration_seconds_bucket"]:
            self.assertIn(name, text)
        self.assertGreater(metric(self.base, "feather_generated_tokens_total"), 0)

    def test_tokenize_detokenize_round_trip(self):
        status, _, body = post(self.base + "/tokenize", {"content": "Hello world", "add_special": False})
        self.assertEqual(status, 200)
        self.assertTrue(all(isinstance(t, int) for t in body["tokens"]) and body["tokens"])
        status, _, back = post(self.base + "/detokenize", {"tokens": body["tokens"]})
        self.assertEqual((status, back["content"]), (200, "Hello world"))
        _, _, pieces = post(self.base + "/tokenize", {"content": "Hello world", "with_pieces": True})
        self.assertEqual("".join(p["piece"] for p in pieces["tokens"]), "Hello world")
        self.assertEqual(post(self.base + "/detokenize", {"tokens": [10**9]})[0], 400)

    def test_vllm_tokenizer_endpoints(self):
        """What lm-eval's remote tokenizer (local-completions, tokenizer_backend=remote) asks."""
        status, _, info = get(self.base + "/tokenizer_info")
        self.assertEqual(status, 200)
        self.assertEqual(info["eos_token"], "<|im_end|>")
        self.assertEqual(info["model_max_length"], CTX)
        ours = post(self.base + "/tokenize", {"content": "Hello world", "add_special": False})[2]["tokens"]
        status, _, vllm = post(self.base + "/tokenize", {"prompt": "Hello world", "add_special_tokens": False})
        self.assertEqual((status, vllm["tokens"], vllm["count"]), (200, ours, len(ours)))
        self.assertEqual(post(self.base + "/detokenize", {"tokens": ours})[2]["prompt"], "Hello world")
        self.assertEqual(post(self.base + "/tokenize", {})[0], 400)

    # Chat

    def test_chat_completion(self):
        r = self.chat("What is the capital of France?", max_tokens=8)
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(r.model, SMOL)
        self.assertTrue(r.choices[0].message.content)
        self.assertEqual(r.choices[0].message.role, "assistant")
        self.assertIn(r.choices[0].finish_reason, ("stop", "length"))
        self.assertLessEqual(r.usage.completion_tokens, 8)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        # max_completion_tokens is the newer name of the same limit.
        r2 = self.client.chat.completions.create(model=SMOL, messages=[{"role": "user", "content": "What is the capital of France?"}],
                                                 temperature=0, max_completion_tokens=8)
        self.assertEqual(r2.choices[0].message.content, r.choices[0].message.content)

    def test_model_by_file_name(self):
        a = self.chat("Name a colour.", max_tokens=4)
        b = self.client.chat.completions.create(model=SMOL + ".gguf", messages=[{"role": "user", "content": "Name a colour."}],
                                                temperature=0, max_tokens=4)
        self.assertEqual(a.choices[0].message.content, b.choices[0].message.content)

    def test_streaming_equals_non_streaming(self):
        full = self.chat("Write a haiku about rain.", max_tokens=16)
        chunks = list(self.chat("Write a haiku about rain.", max_tokens=16, stream=True, stream_options={"include_usage": True}))
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, full.choices[0].message.content)
        finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual(len(finals), 1)
        self.assertEqual(finals[0].choices[0].finish_reason, full.choices[0].finish_reason)
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, full.usage.completion_tokens)
        self.assertEqual(chunks[-1].usage.prompt_tokens, full.usage.prompt_tokens)

    def test_raw_sse_with_curl(self):
        body = json.dumps({"model": SMOL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True})
        out = subprocess.run(["curl", "-sSN", "-H", "Content-Type: application/json", "-d", body, self.base + "/v1/chat/completions"],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        events = [e for e in out.split("\n\n") if e]
        self.assertTrue(all(e.startswith("data: ") for e in events), out)
        self.assertEqual(events[-1], "data: [DONE]")
        for e in events[:-1]:
            self.assertEqual(json.loads(e[6:])["object"], "chat.completion.chunk")

    def test_chat_logprobs(self):
        r = self.chat("Count: one, two,", max_tokens=5, logprobs=True, top_logprobs=3)
        content = r.choices[0].logprobs.content
        self.assertEqual(len(content), r.usage.completion_tokens)
        for entry in content:
            self.assertEqual(len(entry.top_logprobs), 3)
            self.assertEqual(entry.top_logprobs[0].token, entry.token)  # greedy takes the most likely
            self.assertAlmostEqual(entry.top_logprobs[0].logprob, entry.logprob, places=5)
            self.assertLessEqual(entry.logprob, 0)
            self.assertEqual(bytes(entry.bytes).decode(errors="replace"), entry.token)

    def test_stop_sequence_cuts_the_text(self):
        full = self.chat("List three fruits.", max_tokens=24).choices[0].message.content
        self.assertGreater(len(full), 6)
        stop = full[3:6]
        r = self.chat("List three fruits.", max_tokens=24, stop=[stop])
        self.assertEqual(r.choices[0].message.content, full[:full.index(stop)])
        self.assertEqual(r.choices[0].finish_reason, "stop")
        streamed = "".join(c.choices[0].delta.content or "" for c in self.chat("List three fruits.", max_tokens=24, stop=stop, stream=True) if c.choices)
        self.assertEqual(streamed, full[:full.index(stop)])

    def test_seeded_sampling_is_reproducible(self):
        kw = dict(model=SMOL, messages=[{"role": "user", "content": "Tell me a story."}], max_tokens=12, temperature=0.9, seed=42)
        a = self.client.chat.completions.create(**kw).choices[0].message.content
        b = self.client.chat.completions.create(**kw).choices[0].message.content
        self.assertEqual(a, b)

    def test_json_object_response_format(self):
        r = self.chat("Reply in JSON with a key 'a'.", max_tokens=4, response_format={"type": "json_object"})
        self.assertEqual(r.object, "chat.completion")
        with self.assertRaises(openai.BadRequestError) as e:
            self.chat("Reply with a key 'a'.", max_tokens=4, response_format={"type": "json_object"})
        self.assertIn("json", str(e.exception))
        with self.assertRaises(openai.BadRequestError):
            self.chat("json", max_tokens=4, response_format={"type": "yaml"})

    # Completions

    def test_completion_prompt_as_text_and_tokens(self):
        a = self.client.completions.create(model=SMOL, prompt="The quick brown fox", max_tokens=6, temperature=0)
        toks = post(self.base + "/tokenize", {"content": "The quick brown fox", "add_special": True})[2]["tokens"]
        b = self.client.completions.create(model=SMOL, prompt=toks, max_tokens=6, temperature=0)
        self.assertEqual(a.choices[0].text, b.choices[0].text)
        self.assertEqual(a.usage.prompt_tokens, len(toks))
        self.assertEqual(a.object, "text_completion")

    def test_completion_several_prompts(self):
        prompts = ["One, two,", "Red, green,"]
        both = self.client.completions.create(model=SMOL, prompt=prompts, max_tokens=4, temperature=0)
        self.assertEqual([c.index for c in both.choices], [0, 1])
        for i, p in enumerate(prompts):
            alone = self.client.completions.create(model=SMOL, prompt=p, max_tokens=4, temperature=0)
            self.assertEqual(both.choices[i].text, alone.choices[0].text)

    def test_echo_logprobs_equal_feather_run(self):
        """lm-evaluation-harness's log-likelihood request: echo, logprobs, max_tokens 0."""
        prompt = "The capital of France is Paris, and the capital of Italy is Rome."
        r = self.client.completions.create(model=SMOL, prompt=prompt, max_tokens=0, echo=True, logprobs=1, temperature=0)
        c = r.choices[0]
        self.assertEqual(c.text, prompt)
        lp = c.logprobs
        ref = json.loads(subprocess.run([FEATHER, "run", SMOL, "-p", prompt, "-n", "1", "--temp", "0", "--json", "--ctx", str(CTX), "-t", "2"],
                                        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout)
        self.assertEqual(len(lp.tokens), len(ref["prompt_tokens"]))
        self.assertEqual(r.usage.prompt_tokens, len(ref["prompt_tokens"]))
        self.assertEqual(r.usage.completion_tokens, 0)
        self.assertIsNone(lp.token_logprobs[0])
        self.assertIsNone(lp.top_logprobs[0])
        for ours, theirs in zip(lp.token_logprobs[1:], ref["result"]["promptLogprobs"][1:]):
            self.assertAlmostEqual(ours, theirs["logprob"], places=5)
        # text_offset: where each token's text starts in the returned text.
        self.assertEqual(lp.text_offset[0], 0)
        for i in range(1, len(lp.tokens)):
            self.assertEqual(lp.text_offset[i], lp.text_offset[i - 1] + len(lp.tokens[i - 1]))
        # top_logprobs holds the chosen token; greedy positions are those whose token is the best.
        for tok, chosen, top in zip(lp.tokens[1:], lp.token_logprobs[1:], lp.top_logprobs[1:]):
            self.assertIn(tok, top)
            self.assertLessEqual(chosen, max(top.values()) + 1e-6)
        # The same request with generated tokens scores them too.
        g = self.client.completions.create(model=SMOL, prompt=prompt, max_tokens=3, echo=True, logprobs=2, temperature=0).choices[0]
        self.assertEqual(len(g.logprobs.tokens), len(lp.tokens) + 3)
        self.assertEqual(g.logprobs.token_logprobs[:len(lp.tokens)], lp.token_logprobs)
        self.assertTrue(g.text.startswith(prompt))

    def test_second_model(self):
        r = self.client.completions.create(model=GEMMA, prompt="The sun rises in the", max_tokens=4, temperature=0)
        self.assertEqual(r.model, GEMMA)
        self.assertTrue(r.choices[0].text)
        ref = subprocess.run([FEATHER, "run", GEMMA, "-p", "The sun rises in the", "-n", "4", "--temp", "0", "--ctx", str(CTX), "-t", "2"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, check=True).stdout
        self.assertEqual(r.choices[0].text, ref.rstrip("\n"))

    # Concurrency

    def test_32_concurrent_clients_get_their_single_request_answers(self):
        prompts = [f"Question {i}: what is {i} plus {i}? Answer:" for i in range(8)]
        alone = {p: self.client.completions.create(model=SMOL, prompt=p, max_tokens=12, temperature=0).choices[0].text for p in prompts}
        steps0, rows0 = metric(self.base, "feather_decode_steps_total"), metric(self.base, "feather_decode_rows_total")
        jobs = [prompts[i % len(prompts)] for i in range(32)]

        def one(p):
            r = self.client.completions.create(model=SMOL, prompt=p, max_tokens=12, temperature=0)
            return p, r.choices[0].text, r.choices[0].finish_reason, r.usage.completion_tokens

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            results = list(pool.map(one, jobs))
        self.assertEqual(len(results), 32)
        for p, text, finish, n in results:
            self.assertEqual(text, alone[p], p)
            self.assertIn(finish, ("stop", "length"))
            self.assertTrue(n == 12 or finish == "stop")
        steps = metric(self.base, "feather_decode_steps_total") - steps0
        rows = metric(self.base, "feather_decode_rows_total") - rows0
        self.assertGreater(rows / steps, 1.5, "sequences should share decode steps")

    def test_client_disconnect_frees_the_slot(self):
        gen0 = metric(self.base, "feather_generated_tokens_total")
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("POST", "/v1/completions", json.dumps({"model": SMOL, "prompt": "Once upon a time", "max_tokens": 400,
                                                            "stream": True, "ignore_eos": True}), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.readline().startswith(b"data: "))
        # The response owns the socket (the server answers Connection: close): closing it hangs up.
        resp.close()
        conn.close()
        deadline = time.time() + 30
        while time.time() < deadline and metric(self.base, "feather_active_sequences") > 0:
            time.sleep(0.2)
        self.assertEqual(metric(self.base, "feather_active_sequences"), 0)
        self.assertLess(metric(self.base, "feather_generated_tokens_total") - gen0, 400)

    # Errors

    def test_errors_have_openai_shape_and_status(self):
        def check(status, body=None, raw=None, code=None):
            s, _, b = post(self.base + "/v1/chat/completions", body, raw=raw)
            self.assertEqual(s, status, b)
            self.assertEqual(set(b["error"]), {"message", "type", "param", "code"})
            if code:
                self.assertEqual(b["error"]["code"], code)
            return b["error"]
        check(400, raw=b'{"model": "smollm2-135m", "messages": [')
        e = check(400, {"model": SMOL, "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"})
        self.assertEqual(e["param"], "temperature")
        check(400, {"model": SMOL, "messages": "hi"})
        check(400, {"model": SMOL})
        check(404, {"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]}, code="model_not_found")
        check(400, {"model": SMOL, "messages": [{"role": "user", "content": "hi"}], "n": 2})
        check(400, {"model": SMOL, "messages": [{"role": "user", "content": "word " * 600}]}, code="context_length_exceeded")
        with self.assertRaises(openai.NotFoundError):
            self.client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
        with self.assertRaises(openai.BadRequestError):
            self.client.completions.create(model=SMOL, prompt=[1] * (CTX + 1), max_tokens=1)
        s, _, b = post(self.base + "/v1/completions", {"model": SMOL, "prompt": [10**9], "max_tokens": 1})
        self.assertEqual(s, 400)


if __name__ == "__main__":
    run(ServeTests)
