"""A hostile chat template costs its own request a 400 and nothing else: the render runs on a thread of
its own within its budget, /health and the other model keep answering, SIGTERM still stops the server.
`feather chat --chat-template` with the same template exits 1 with the budget error."""
import concurrent.futures
import os
import shutil
import struct
import subprocess
import time
import unittest

from serve_support import ROOT, FEATHER, Server, get, post, run

SMOL = "smollm2-135m"
# 10^11 list comparisons if nothing stops it; the loops alone stay under the sandbox's iteration limit.
HOSTILE = ("{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}"
           "{% if -1 in big %}{% endif %}{% endfor %}{% endfor %}")
HOSTILE_REQUESTS = 2 + 2 * (os.cpu_count() or 1)
WORK = os.path.join(ROOT, ".build", "serve-test-template-budget")

# GGUF metadata value types (ggml's gguf.h, GGUF_TYPE_*): fixed sizes, 8 = string, 9 = array.
FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_with_chat_template(source, target, template):
    """Copies a GGUF file with `tokenizer.chat_template` set to `template` (GGUF v2/v3 layout)."""
    with open(source, "rb") as f:
        data = memoryview(f.read())
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version >= 2
    pos = 24

    def string_end(p):
        (n,) = struct.unpack_from("<Q", data, p)
        return p + 8 + n

    def value_end(kind, p):
        if kind in FIXED:
            return p + FIXED[kind]
        if kind == 8:
            return string_end(p)
        item, count = struct.unpack_from("<IQ", data, p)
        p += 12
        if item in FIXED:
            return p + FIXED[item] * count
        for _ in range(count):
            p = value_end(item, p)
        return p

    def gguf_string(text):
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    kvs, alignment = [], 32
    for _ in range(n_kv):
        key_end = string_end(pos)
        key = bytes(data[pos + 8:key_end]).decode()
        (kind,) = struct.unpack_from("<I", data, key_end)
        end = value_end(kind, key_end + 4)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", data, key_end + 4)
        if key != "tokenizer.chat_template":
            kvs.append(bytes(data[pos:end]))
        pos = end
    kvs.append(gguf_string("tokenizer.chat_template") + struct.pack("<I", 8) + gguf_string(template))
    infos_start = pos
    for _ in range(n_tensors):
        (dims,) = struct.unpack_from("<I", data, string_end(pos))
        pos = string_end(pos) + 4 + 8 * dims + 4 + 8
    infos = bytes(data[infos_start:pos])
    tensors = bytes(data[(pos + alignment - 1) // alignment * alignment:])
    head = struct.pack("<4sIQQ", b"GGUF", version, n_tensors, len(kvs)) + b"".join(kvs) + infos
    with open(target, "wb") as f:
        f.write(head + b"\0" * (-len(head) % alignment))
        f.write(tensors)


def chat(base, model):
    return post(base + "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0})


class TemplateBudgetTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        cls.hostile = os.path.join(WORK, "hostile.gguf")
        gguf_with_chat_template(os.path.join(ROOT, ".models", SMOL + ".gguf"), cls.hostile, HOSTILE)
        cls.template_file = os.path.join(WORK, "hostile.jinja")
        with open(cls.template_file, "w") as f:
            f.write(HOSTILE)
        cls.server = Server(cls.hostile, SMOL, "--ctx", "512", "-t", "2")
        cls.base = cls.server.base
        cls.pool = concurrent.futures.ThreadPoolExecutor(HOSTILE_REQUESTS)

    @classmethod
    def tearDownClass(cls):
        cls.pool.shutdown(wait=False, cancel_futures=True)
        cls.server.stop()

    def test_hostile_requests_fail_alone(self):
        # More hostile renders than CPUs: rendered on the server's shared threads they would hold all of
        # them for the whole 2 s budget, and /health would wait.
        started = time.time()
        hostile = [self.pool.submit(chat, self.base, "hostile") for _ in range(HOSTILE_REQUESTS)]
        time.sleep(0.5)
        t = time.time()
        self.assertEqual(get(self.base + "/health")[0], 200)
        self.assertLess(time.time() - t, 1.2, "/health waited for the hostile renders")
        t = time.time()
        self.assertEqual(get(self.base + "/metrics")[0], 200)
        self.assertLess(time.time() - t, 1.2, "/metrics waited for the hostile renders")
        t = time.time()
        status, _, body = chat(self.base, SMOL)
        self.assertEqual(status, 200, body)
        self.assertLess(time.time() - t, 20, "the other model waited for the hostile renders")
        for future in hostile:
            status, _, body = future.result(timeout=30)
            self.assertEqual(status, 400, body)
            self.assertEqual(body["error"]["type"], "invalid_request_error")
            self.assertIn("template exceeded its render budget", body["error"]["message"])
        self.assertLess(time.time() - started, 30)

    def test_chat_command_exits_1_with_the_budget_error(self):
        started = time.time()
        done = subprocess.run([FEATHER, "chat", SMOL, "--chat-template", self.template_file, "-n", "4", "-t", "2", "--ctx", "512"],
                              cwd=ROOT, input="Hi\n", capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("template exceeded its render budget", done.stderr)
        self.assertEqual(done.stdout, "")
        # Loading the model takes a moment; the render itself stops after 2 s at most.
        self.assertLess(time.time() - started, 60)

    def test_z_sigterm_stops_the_server_with_hostile_renders_in_flight(self):
        for _ in range(HOSTILE_REQUESTS):
            self.pool.submit(chat, self.base, "hostile")
        time.sleep(0.5)
        t = time.time()
        self.server.proc.terminate()
        self.server.proc.wait(20)
        self.assertLess(time.time() - t, 15)


if __name__ == "__main__":
    run(TemplateBudgetTests)
