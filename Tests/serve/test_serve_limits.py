"""`feather serve` limits: API key, body size, a full queue, and shutdown on SIGTERM.

One server for the file: smollm2-135m with one slot, a queue of one, an API key and a 4 KiB body limit.
"""
import concurrent.futures
import json
import signal
import threading
import time
import unittest
import http.client

import openai

from serve_support import Server, get, metric, post, run

KEY = "test-key-123"
AUTH = {"Authorization": f"Bearer {KEY}"}
SMOL = "smollm2-135m"


class ServeLimitTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SMOL, "--parallel", "1", "--queue", "1", "--api-key", KEY, "--max-body", "4096", "--ctx", "512", "-t", "2")
        cls.base = cls.server.base

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_api_key(self):
        self.assertEqual(get(self.base + "/health")[0], 200)
        status, _, body = get(self.base + "/v1/models")
        self.assertEqual((status, body["error"]["code"]), (401, "invalid_api_key"))
        status, _, body = get(self.base + "/v1/models", {"Authorization": "Bearer wrong"})
        self.assertEqual(status, 401)
        with self.assertRaises(openai.AuthenticationError):
            openai.OpenAI(base_url=self.base + "/v1", api_key="wrong", max_retries=0).models.list()
        ids = [m.id for m in openai.OpenAI(base_url=self.base + "/v1", api_key=KEY, max_retries=0).models.list().data]
        self.assertEqual(ids, [SMOL])

    def test_body_over_the_limit_is_413(self):
        status, _, body = post(self.base + "/v1/completions", {"model": SMOL, "prompt": "x" * 5000}, AUTH)
        self.assertEqual(status, 413)
        self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})

    def test_full_queue_is_429_with_retry_after(self):
        body = {"model": SMOL, "prompt": "Once upon a time", "max_tokens": 150, "ignore_eos": True}
        barrier = threading.Barrier(4)

        def one(_):
            barrier.wait()
            return post(self.base + "/v1/completions", body, AUTH)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(4)))
        statuses = sorted(r[0] for r in results)
        # One slot and one queue place: two are served, the others are turned away at once.
        self.assertEqual(statuses.count(200), 2, statuses)
        self.assertEqual(statuses.count(429), 2, statuses)
        for status, headers, b in results:
            if status == 429:
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
                self.assertEqual(b["error"]["type"], "rate_limit_error")
            else:
                self.assertEqual(b["usage"]["completion_tokens"], 150)

    def test_z_sigterm_finishes_the_stream_in_flight(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        conn.request("POST", "/v1/completions", json.dumps({"model": SMOL, "prompt": "Once upon a time", "max_tokens": 40,
                                                            "ignore_eos": True, "stream": True}),
                     {"Content-Type": "application/json", **AUTH})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        first = resp.readline()
        self.assertTrue(first.startswith(b"data: "))
        self.server.proc.send_signal(signal.SIGTERM)
        rest = resp.read().decode()
        conn.close()
        self.assertTrue(rest.rstrip().endswith("data: [DONE]"), rest[-200:])
        texts = [json.loads(line[6:]) for line in (first.decode() + rest).splitlines() if line.startswith("data: {")]
        self.assertEqual(texts[-1]["choices"][0]["finish_reason"], "length")
        self.assertEqual(self.server.proc.wait(60), 0)


if __name__ == "__main__":
    run(ServeLimitTests)
