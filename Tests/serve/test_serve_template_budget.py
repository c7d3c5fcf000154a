"""A hostile chat template costs its own request a 400 and nothing else: the render runs on a thread of
its own within its budget, /health and the other model keep answering, SIGTERM still stops the server.
`feather chat --chat-template` with the same template exits 1 with the budget error."""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time
import unittest

from serve_support import ROOT, FEATHER, Server, get, post, run

SMOL = "smollm2-135m"
# 10^11 list comparisons if nothing stops it; the loops alone stay under the sandbox's iteration limit.
HOSTILE = ("{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}"
           "{% if -1 in big %}{% endif %}{% endfor %}{% endfor %}")
HOSTILE_REQUESTS = 2 + 2 * (os.cpu_count() or 1)
WORK = os.path.join(ROOT, ".build", "serve-test-template-budget")

def gguf_with_chat_template(source, target, template_file):
    """A copy of `source` whose tokenizer.chat_template is the file's text (scripts/gguf-set-template.py)."""
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gguf-set-template.py"), source, target, template_file], check=True)


def chat(base, model):
    return post(base + "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "temperature": 0})


class TemplateBudgetTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        shutil.rmtree(WORK, ignore_errors=True)
        os.makedirs(WORK)
        cls.hostile = os.path.join(WORK, "hostile.gguf")
        cls.template_file = os.path.join(WORK, "hostile.jinja")
        with open(cls.template_file, "w") as f:
            f.write(HOSTILE)
        gguf_with_chat_template(os.path.join(ROOT, ".models", SMOL + ".gguf"), cls.hostile, cls.template_file)
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
