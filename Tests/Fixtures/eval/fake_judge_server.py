#!/usr/bin/env python3
"""A fake OpenAI chat endpoint (Python standard library only) that answers MT-Bench questions and
judges them, for the MT-Bench scoring tests (Tests/EvalTests/MTBenchTests.swift).

    python3 fake_judge_server.py PORTFILE LOGFILE SCRIPT

Binds an ephemeral loopback port and writes it to PORTFILE. Every POST body is appended to LOGFILE
as one JSON line {"path": ..., "body": ...}. /v1/chat/completions with model "judge" answers from
SCRIPT, a JSON list of rules {"contains": TEXT, "replies": [JUDGMENT, ...]}: the first rule whose
TEXT occurs in the last message gives its next reply (the last one repeats). Any other model answers
answer(messages) below, which holds braces so that a judge prompt filled twice would show it.
"""
import json, os, signal, sys, threading

# Spawned from a thread with signals blocked, SIGTERM would stay blocked: unblock it.
signal.pthread_sigmask(signal.SIG_SETMASK, [])
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler


def answer(messages):
    """The candidate model's answer to a conversation (scripts/oracle/mt_bench_judge_prompts.py says the same)."""
    return "ANSWER %d to <%s> {question_1} {{x}} }" % (len(messages), messages[-1]["content"][:40])


port_file, log_file, script_file = sys.argv[1], sys.argv[2], sys.argv[3]
with open(script_file) as f:
    rules = json.load(f)
served = [0] * len(rules)
lock = threading.Lock()


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

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            with open(log_file, "a") as f:
                f.write(json.dumps({"path": self.path, "body": req}) + "\n")
            if self.path != "/v1/chat/completions":
                self.reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
                return
            messages = req["messages"]
            if req.get("model") == "judge":
                last = messages[-1]["content"]
                for i, rule in enumerate(rules):
                    if rule["contains"] in last:
                        text = rule["replies"][min(served[i], len(rule["replies"]) - 1)]
                        served[i] += 1
                        break
                else:
                    self.reply(500, {"error": {"message": "no rule for this judge prompt", "type": "server_error"}})
                    return
            else:
                text = answer(messages)
        self.reply(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
