#!/usr/bin/env python3
"""A fake OpenAI-compatible server (Python standard library only) for the OpenAIBackend tests.

    python3 fake_openai_server.py PORTFILE [--no-echo] [--delay SECONDS]

Binds an ephemeral loopback port and writes it to PORTFILE. Tokens are single characters; the
logprob of character c is -(ord(c) % 7 + 1) / 10, the first prompt token has none, and a
character is the greedy choice iff it is lowercase (else the top alternative is "~" at -0.01).
/v1/completions: echo + logprobs + max_tokens 0 scores the prompt; otherwise it "generates"
"ECHO:" + the prompt's last line reversed. /v1/chat/completions answers "CHAT:" + the last
message. --no-echo ignores echo (as servers that cannot score prompts). GET /stats returns the
requests served and the most that were in flight at once.
"""
import json, signal, sys, threading, time

# Spawned from a thread with signals blocked, SIGTERM would stay blocked: unblock it.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port_file = sys.argv[1]
no_echo = "--no-echo" in sys.argv
delay = float(sys.argv[sys.argv.index("--delay") + 1]) if "--delay" in sys.argv else 0.0
lock = threading.Lock()
stats = {"requests": 0, "in_flight": 0, "max_in_flight": 0}

def lp(c):
    return -((ord(c) % 7) + 1) / 10.0

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            self.reply(200, dict(stats))

    def do_POST(self):
        with lock:
            stats["requests"] += 1
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            time.sleep(delay)
            req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if self.path == "/v1/completions":
                prompt = req["prompt"]
                if req.get("echo") and req.get("logprobs") is not None and req.get("max_tokens") == 0 and not no_echo:
                    toks = list(prompt)
                    logprobs = {
                        "tokens": toks,
                        "token_logprobs": [None] + [lp(c) for c in toks[1:]],
                        "top_logprobs": [None] + [({c: lp(c)} if c.islower() else {"~": -0.01}) for c in toks[1:]],
                        "text_offset": list(range(len(toks))),
                    }
                    self.reply(200, {"choices": [{"text": prompt, "logprobs": logprobs, "finish_reason": "length"}]})
                elif req.get("max_tokens") == 0:
                    self.reply(200, {"choices": [{"text": "", "logprobs": None, "finish_reason": "length"}]})
                else:
                    text = "ECHO:" + prompt.split("\n")[-1][::-1] + "\nQuestion: more"
                    self.reply(200, {"choices": [{"text": text, "finish_reason": "stop"}]})
            elif self.path == "/v1/chat/completions":
                last = req["messages"][-1]["content"]
                self.reply(200, {"choices": [{"message": {"role": "assistant", "content": "CHAT:" + last}, "finish_reason": "stop"}]})
            else:
                self.reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        finally:
            with lock:
                stats["in_flight"] -= 1

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
