"""`feather serve` under bad clients and bad input: disconnects free their slot at once, silent
connections are closed, errors keep OpenAI's shape, and the API key is checked as documented.

One server for most of the file: smollm2-135m with one slot, a queue of two, and a 2-second idle
timeout. A second, short-lived server checks --api-key-file and FEATHER_API_KEY.
"""
import http.client
import json
import os
import socket
import tempfile
import time
import unittest

from serve_support import Server, get, metric, post, run

SMOL = "smollm2-135m"
ERROR_KEYS = {"message", "type", "param", "code"}


def raw_request(port, method, path, body=None):
    """A request on a socket of its own, not read: the caller closes it to act as a client that leaves."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return s


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class ServeReliabilityTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(SMOL, "--parallel", "1", "--queue", "2", "--ctx", "1024", "-t", "2", "--timeout", "2")
        cls.base = cls.server.base
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"feather serve exited with {code} after SIGTERM"

    def metric(self, name):
        return metric(self.base, name)

    def idle(self):
        return self.metric("feather_active_sequences") == 0 and self.metric("feather_queue_depth") == 0

    def assertError(self, response, status, contains=None, param=None):
        code, _, body = response
        self.assertEqual(code, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(set(body["error"]), ERROR_KEYS)
        if contains:
            self.assertIn(contains, body["error"]["message"])
        if param:
            self.assertEqual(body["error"]["param"], param)
        return body["error"]

    # Disconnects (README: a client that leaves frees its slot at once)

    def test_non_streaming_client_that_leaves_frees_its_slot(self):
        wait_for(self.idle, 30, "an idle server")
        before = self.metric("feather_generated_tokens_total")
        s = raw_request(self.port, "POST", "/v1/completions",
                        {"model": SMOL, "prompt": "Once upon a time", "max_tokens": 900, "ignore_eos": True})
        wait_for(lambda: self.metric("feather_generated_tokens_total") > before + 5, 60, "generation to start")
        s.close()
        wait_for(self.idle, 5, "the slot to be freed after the client left")
        stopped_at = self.metric("feather_generated_tokens_total")
        self.assertLess(stopped_at - before, 900, "the abandoned request ran to its end")
        time.sleep(0.5)
        self.assertEqual(self.metric("feather_generated_tokens_total"), stopped_at, "tokens were still generated")
        # The slot serves the next request.
        code, _, body = post(self.base + "/v1/completions", {"model": SMOL, "prompt": "Hello", "max_tokens": 3})
        self.assertEqual(code, 200, body)

    def test_streaming_client_that_leaves_while_queued_is_never_prefilled(self):
        wait_for(self.idle, 30, "an idle server")
        busy = raw_request(self.port, "POST", "/v1/completions",
                           {"model": SMOL, "prompt": "Once upon a time", "max_tokens": 900, "ignore_eos": True})
        wait_for(lambda: self.metric("feather_active_sequences") == 1, 60, "the slot to be taken")
        prompt_tokens = self.metric("feather_prompt_tokens_total")
        waiting = raw_request(self.port, "POST", "/v1/chat/completions",
                              {"model": SMOL, "stream": True, "max_tokens": 50,
                               "messages": [{"role": "user", "content": "a queued request that leaves " * 20}]})
        wait_for(lambda: self.metric("feather_queue_depth") == 1, 10, "the request to be queued")
        waiting.close()
        wait_for(lambda: self.metric("feather_queue_depth") == 0, 5, "the queued request to leave the queue")
        busy.close()
        wait_for(self.idle, 5, "the slot to be freed")
        time.sleep(0.5)
        self.assertEqual(self.metric("feather_prompt_tokens_total"), prompt_tokens, "the abandoned request was prefilled")

    def test_streaming_client_that_leaves_mid_stream_frees_its_slot(self):
        wait_for(self.idle, 30, "an idle server")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/v1/completions", json.dumps({"model": SMOL, "prompt": "Once upon a time", "max_tokens": 900,
                                                            "ignore_eos": True, "stream": True}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.readline().startswith(b"data: "))
        # The response owns the socket (the server answers Connection: close): closing it hangs up.
        resp.close()
        conn.close()
        wait_for(self.idle, 5, "the slot to be freed after the stream's client left")

    # Connections that never finish their headers

    def test_partial_headers_are_closed_after_the_timeout(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app")
        started = time.time()
        self.assertEqual(s.recv(1024), b"", "the server answered or kept the connection")
        self.assertLess(time.time() - started, 10)
        s.close()
        self.assertEqual(get(self.base + "/health")[0], 200)

    # OpenAI-shaped errors

    def test_unknown_route_is_json_404(self):
        error = self.assertError(get(self.base + "/v1/nothing-here"), 404, "/v1/nothing-here")
        self.assertEqual(error["type"], "invalid_request_error")
        self.assertError(post(self.base + "/v2/chat/completions", {}), 404)

    def test_wrong_method_is_json_405(self):
        code, headers, body = get(self.base + "/v1/chat/completions")
        self.assertError((code, headers, body), 405, "POST")
        self.assertEqual(headers.get("Allow"), "POST")
        self.assertError(post(self.base + "/v1/models", {}), 405, "GET")

    def test_unknown_role_is_400(self):
        self.assertError(post(self.base + "/v1/chat/completions",
                              {"model": SMOL, "messages": [{"role": "wizard", "content": "hi"}]}),
                         400, "'wizard'", param="messages[0].role")

    def test_invalid_utf8_is_named(self):
        raw = b'{"model": "smollm2-135m", "messages": [{"role": "user", "content": "\xff\xfe"}]}'
        self.assertError(post(self.base + "/v1/chat/completions", raw=raw), 400, "not valid UTF-8")

    def test_lone_surrogate_is_named(self):
        raw = b'{"model": "smollm2-135m", "messages": [{"role": "user", "content": "\\ud800"}]}'
        error = self.assertError(post(self.base + "/v1/chat/completions", raw=raw), 400, "surrogate")
        self.assertNotIn("array", error["message"])

    def test_out_of_range_numbers_are_named(self):
        raw = b'{"model": "smollm2-135m", "prompt": "hi", "seed": 1180591620717411303424}'
        self.assertError(post(self.base + "/v1/completions", raw=raw), 400, "'seed' is out of range", param="seed")
        raw = b'{"model": "smollm2-135m", "prompt": "hi", "temperature": 1e400}'
        self.assertError(post(self.base + "/v1/completions", raw=raw), 400, "1e400")
        raw = b'{"model": "smollm2-135m", "prompt": "hi", "temperature": 1e300}'
        self.assertError(post(self.base + "/v1/completions", raw=raw), 400, "'temperature' is out of range")

    def test_more_prompts_than_the_server_takes_is_400_not_busy(self):
        wait_for(self.idle, 30, "an idle server")
        error = self.assertError(post(self.base + "/v1/completions", {"model": SMOL, "prompt": ["hi"] * 100, "max_tokens": 1}),
                                 400, "at most 3", param="prompt")
        self.assertNotIn("waiting", error["message"])


class ServeKeySourcesTests(unittest.TestCase):
    """The key from --api-key-file, or from FEATHER_API_KEY; the scheme name in any case."""

    def check(self, server, key):
        try:
            base = server.base
            self.assertEqual(get(base + "/v1/models")[0], 401)
            self.assertEqual(get(base + "/v1/models", {"Authorization": f"Bearer {key}x"})[0], 401)
            self.assertEqual(get(base + "/v1/models", {"Authorization": f"Bearer {key[:-1]}"})[0], 401)
            self.assertEqual(get(base + "/v1/models", {"Authorization": f"Basic {key}"})[0], 401)
            for scheme in ("Bearer", "bearer", "BEARER"):
                self.assertEqual(get(base + "/v1/models", {"Authorization": f"{scheme} {key}"})[0], 200, scheme)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_key_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".key", delete=False) as f:
            f.write("file-key-456\n")
        try:
            self.check(Server(SMOL, "--parallel", "1", "--ctx", "256", "-t", "1", "--api-key-file", f.name), "file-key-456")
        finally:
            os.unlink(f.name)

    def test_key_from_environment(self):
        os.environ["FEATHER_API_KEY"] = "env-key-789"
        try:
            self.check(Server(SMOL, "--parallel", "1", "--ctx", "256", "-t", "1"), "env-key-789")
        finally:
            del os.environ["FEATHER_API_KEY"]


if __name__ == "__main__":
    run(ServeReliabilityTests, ServeKeySourcesTests)
