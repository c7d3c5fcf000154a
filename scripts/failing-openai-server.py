#!/usr/bin/env python3
"""An OpenAI-compatible streaming server that fails on purpose, for testing `feather bench --endpoint`.

Standard library only. POST /v1/chat/completions and /v1/completions answer with Server-Sent Events.
Request k (counted from 0 in arrival order) behaves as PATTERN[k % len(PATTERN)]:
  ok         role chunk, N text chunks, a finish chunk, a usage chunk (if stream_options.include_usage), [DONE]
  nousage    as ok without the usage chunk
  500, 429   an OpenAI-shaped JSON error with that status
  cut        two text chunks, then the connection is closed mid-body (chunked encoding never finished)
  malformed  one text chunk, then a data line that is not JSON, then [DONE]
  slow       sleeps SLOW seconds before answering (for client timeouts), then behaves as ok
  error      one text chunk, then an {"error": ...} object in the stream
  drop       as ok, but the next request on the same kept-alive connection is answered by closing the
             connection (llama-server closes a connection after a stream without `Connection: close`)
Prints "port N" on its first stdout line once listening; --port 0 picks a free port.
--record FILE appends each request's body to FILE, one JSON line per request, in arrival order.
Usage: failing-openai-server.py [--port 0] [--pattern ok,500,429,cut,malformed,slow] [--tokens 8] [--slow 5] [--record FILE]
"""
import argparse
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--pattern", default="ok,500,429,cut,malformed,slow")
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--slow", type=float, default=5.0)
    ap.add_argument("--record")
    args = ap.parse_args()
    pattern = args.pattern.split(",")
    counter = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def chunk(self, data: bytes):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def event(self, obj):
            self.chunk(b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n")

        def text_chunk(self, chat, i, text, finish=None):
            if chat:
                delta = {"content": text} if i >= 0 else {"role": "assistant", "content": None}
                choice = {"index": 0, "delta": delta, "finish_reason": finish}
                return {"id": "x", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
            return {"id": "x", "object": "text_completion", "model": "m",
                    "choices": [{"index": 0, "text": text, "finish_reason": finish}]}

        def do_POST(self):
            if getattr(self, "dropping", False):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                k = counter["n"]
                counter["n"] += 1
                if args.record:
                    with open(args.record, "a") as f:
                        f.write(json.dumps(body) + "\n")
            mode = pattern[k % len(pattern)]
            chat = self.path.endswith("/chat/completions")
            if mode in ("500", "429"):
                payload = json.dumps({"error": {"message": f"failing on purpose ({mode})", "type": "server_error",
                                                "code": int(mode)}}).encode()
                self.send_response(int(mode))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if mode == "slow":
                time.sleep(args.slow)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if chat:
                self.event(self.text_chunk(chat, -1, None))
            n = min(args.tokens, int(body.get("max_tokens", args.tokens)))
            for i in range(n):
                if mode == "cut" and i == 2:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if mode == "malformed" and i == 1:
                    self.event(b'{"choices": [{"delta": {"content": "oops"')
                    break
                if mode == "error" and i == 1:
                    self.event({"error": {"message": "failing on purpose (error in stream)"}})
                    break
                self.event(self.text_chunk(chat, i, f" t{i}"))
                time.sleep(0.002)
            else:
                self.event(self.text_chunk(chat, n, "", "length"))
                opts = body.get("stream_options") or {}
                if opts.get("include_usage") and mode != "nousage":
                    self.event({"id": "x", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n,
                                                                     "total_tokens": 7 + n}})
            self.event(b"[DONE]")
            self.chunk(b"")
            self.dropping = mode == "drop"

    # A parent that spawns us from a thread with signals blocked (Foundation's Process under Swift
    # concurrency) would leave SIGTERM blocked: unblock so terminate() stops us.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
