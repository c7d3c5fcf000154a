#!/usr/bin/env python3
"""Chaos run against `feather serve` on loopback, bounded in requests and time (run by `make test`).

Starts its own server on a free 127.0.0.1 port and throws at it: 32 concurrent clients, clients that
leave mid-stream, mid-queue and mid-answer, oversize, malformed and truncated bodies, garbage
bytes, headers that never finish, hostile chat templates (with --hostile-model), and finally
SIGTERM with requests in flight. Afterwards every slot must be free, /health must answer, every
completed response must be well-formed, and the server must exit 0. Prints one summary line:
"chaos: N cases, M failures" (and the "N passed, N failed" line test runners read). Exit 1 on any failure.

  scripts/chaos-serve.py [--feather .build/debug/feather] [--model smollm2-135m] [--hostile-model PATH]
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE = time.time() + 420  # the whole run, start-up included
results = []  # (case, ok, detail)
lock = threading.Lock()


def record(case, ok, detail=""):
    with lock:
        results.append((case, ok, detail))
    if not ok:
        print(f"FAIL {case}: {detail}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, feather, models, extra):
        self.port = free_port()
        self.log = open(os.path.join(ROOT, f".build/chaos-serve-{self.port}.log"), "w")
        self.proc = subprocess.Popen([feather, "serve", *models, "--port", str(self.port), *extra], cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"chaos: feather serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.proc.kill()
        raise SystemExit("chaos: feather serve did not become healthy in 180 s")

    def request(self, method, path, body=None, timeout=120, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
            conn.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type") or "", r.read()
        finally:
            conn.close()

    def get(self, path, timeout=10):
        return self.request("GET", path, timeout=timeout)

    def metric(self, name):
        text = self.get("/metrics")[2].decode()
        return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + "{") or l.startswith(name + " "))

    def raw(self, payload):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(payload)
        return s


def well_formed(status, ctype, body, stream):
    """A 200 with a complete answer, or an OpenAI-shaped error."""
    if status != 200:
        try:
            e = json.loads(body)["error"]
            return {"message", "type", "param", "code"} <= set(e), f"{status} {e.get('message')}"
        except (ValueError, KeyError, TypeError):
            return False, f"{status} with a body that is not an OpenAI error: {body[:200]!r}"
    if stream:
        lines = [l for l in body.decode().split("\n") if l.startswith("data: ")]
        if not lines or lines[-1] != "data: [DONE]":
            return False, f"stream without [DONE]: {body[-200:]!r}"
        try:
            chunks = [json.loads(l[6:]) for l in lines[:-1]]
        except ValueError:
            return False, "a stream chunk is not JSON"
        return any(c["choices"] and c["choices"][0].get("finish_reason") for c in chunks), "no finish_reason"
    try:
        j = json.loads(body)
        return bool(j["choices"]) and j["choices"][0]["finish_reason"] in ("stop", "length"), "no choices"
    except (ValueError, KeyError):
        return False, f"not a completion: {body[:200]!r}"


def body_for(i, model):
    if i % 2:
        return "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": f"Say {i}."}],
                                        "max_tokens": 4 + i % 5, "stream": i % 4 == 1}
    return "/v1/completions", {"model": model, "prompt": f"Count to {i}:", "max_tokens": 4 + i % 5, "stream": i % 4 == 0}


def concurrent_clients(server, model, n=32):
    def one(i):
        path, body = body_for(i, model)
        try:
            status, ctype, data = server.request("POST", path, body)
        except OSError as e:
            return record(f"client {i}", False, f"no answer: {e!r}")
        ok, why = well_formed(status, ctype, data, body["stream"] and status == 200)
        record(f"client {i} ({'stream' if body['stream'] else 'plain'} {path})", ok and status in (200, 429), why)
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(one, range(n)))


def leaving_clients(server, model):
    # Mid-answer (non-streaming), mid-stream, and while queued: each socket closes without reading.
    socks = []
    for i in range(6):
        path, body = body_for(i, model)
        body.update(max_tokens=400, ignore_eos=True, stream=i % 2 == 0)
        data = json.dumps(body).encode()
        s = server.raw(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
        socks.append(s)
    time.sleep(1.5)  # two are decoding, the rest are queued
    for s in socks:
        s.close()
    record("6 clients leave (mid-answer, mid-stream, queued)", True)


def bad_bodies(server, model, max_body):
    cases = [
        ("oversize body", "POST", "/v1/completions", json.dumps({"model": model, "prompt": "x" * (max_body + 10)}).encode(), 413),
        ("malformed JSON", "POST", "/v1/completions", b'{"model": "' + model.encode() + b'", "prompt": ', 400),
        ("JSON that is not an object", "POST", "/v1/chat/completions", b"[1, 2, 3]", 400),
        ("invalid UTF-8", "POST", "/v1/completions", b'{"prompt": "\xff"}', 400),
        ("wrong types", "POST", "/v1/chat/completions", json.dumps({"model": model, "messages": "hi"}).encode(), 400),
        ("unknown route", "GET", "/v1/unknown", None, 404),
        ("wrong method", "DELETE", "/v1/completions", None, 405),
        ("negative max_tokens", "POST", "/v1/completions", json.dumps({"model": model, "prompt": "a", "max_tokens": -5}).encode(), 400),
    ]
    for name, method, path, body, want in cases:
        try:
            status, ctype, data = server.request(method, path, body)
        except OSError as e:
            record(name, False, f"no answer: {e!r}")
            continue
        ok, why = well_formed(status, ctype, data, False)
        record(name, ok and status == want, f"status {status}, wanted {want}: {why}")
    # Bodies and heads that never complete: the server must not answer garbage and must stay up.
    s = server.raw(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"prompt\": ")
    s.close()
    s = server.raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64))  # a TLS hello on a plain port
    s.settimeout(10)
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()
    s = server.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    start = time.time()
    s.settimeout(20)
    try:
        closed = s.recv(1024) == b""
    except OSError:
        closed = False
    s.close()
    record("unfinished headers are closed by the idle timeout", closed and time.time() - start < 15, f"after {time.time() - start:.1f} s")
    record("health after bad bodies", server.get("/health")[0] == 200)


def hostile_templates(server, hostile):
    """Two requests to a model whose chat template never ends: errors for them, health unaffected."""
    results_ = []

    def one(_):
        try:
            results_.append(server.request("POST", "/v1/chat/completions",
                                           {"model": hostile, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}, timeout=60))
        except OSError as e:
            record("hostile template answered", False, f"no answer: {e!r}")
    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    start = time.time()
    try:
        status = server.get("/health", timeout=5)[0]
    except OSError as e:
        status = repr(e)
    record("health while hostile templates render", status == 200 and time.time() - start < 5, f"{status} after {time.time() - start:.1f} s")
    for t in threads:
        t.join(90)
    for status, ctype, data in results_:
        ok, why = well_formed(status, ctype, data, False)
        record("hostile template answered with an error", ok and status in (400, 500), why)
    record("both hostile requests answered", len(results_) == 2, f"{len(results_)} answered")


def wait_idle(server, seconds=15):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.metric("feather_active_sequences") == 0 and server.metric("feather_queue_depth") == 0:
            return True
        time.sleep(0.2)
    return False


def sigterm_in_flight(server, model):
    outs = []

    def stream(i):
        path, body = body_for(i, model)
        body.update(stream=True, max_tokens=60, ignore_eos=True)
        try:
            outs.append(server.request("POST", path, body, timeout=120))
        except OSError as e:
            outs.append((0, "", str(e).encode()))
    threads = [threading.Thread(target=stream, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(120)
    for status, ctype, data in outs:
        # A request accepted before SIGTERM finishes; one that arrived after it is refused cleanly.
        ok, why = well_formed(status, ctype, data, status == 200)
        record("stream across SIGTERM", ok and status in (200, 503) or status == 0 and b"refused" in data.lower(), why)
    try:
        code = server.proc.wait(60)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        code = "hung"
    record("server exits 0 after SIGTERM", code == 0, f"exit {code}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feather", default=os.environ.get("FEATHER_BIN", ".build/debug/feather"))
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--hostile-model", help="a GGUF whose chat template never finishes rendering")
    args = ap.parse_args()
    random.seed(7)
    max_body = 65536
    models = [args.model] + ([args.hostile_model] if args.hostile_model else [])
    server = Server(args.feather, models, ["--parallel", "2", "--queue", "40", "--ctx", "1024", "-t", "2",
                                           "--timeout", "3", "--max-body", str(max_body)])
    def case(name, run):
        """One group of cases; an exception there is its failure, and the run goes on."""
        if time.time() > DEADLINE:
            return record(name, False, "not run: past the time bound")
        try:
            run()
        except Exception as e:  # noqa: BLE001 - any error of a case is that case's failure
            record(name, False, repr(e))

    def afterwards():
        record("every slot free afterwards", wait_idle(server), "still busy 15 s after the last client")
        status, _, data = server.request("POST", "/v1/completions", {"model": args.model, "prompt": "Hi", "max_tokens": 2})
        record("a normal request afterwards", status == 200, data[:200])

    try:
        case("concurrent clients", lambda: concurrent_clients(server, args.model))
        case("clients that leave", lambda: leaving_clients(server, args.model))
        case("bad bodies", lambda: bad_bodies(server, args.model, max_body))
        if args.hostile_model:
            hostile = os.path.basename(args.hostile_model).removesuffix(".gguf")
            case("hostile templates", lambda: hostile_templates(server, hostile))
        case("afterwards", afterwards)
        case("SIGTERM in flight", lambda: sigterm_in_flight(server, args.model))
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
        if time.time() > DEADLINE:
            record("finished within the time bound", False, "past 420 s")
    failures = sum(1 for _, ok, _ in results if not ok)
    print(f"chaos: {len(results)} cases, {failures} failures")
    print(f"{len(results) - failures} passed, {failures} failed")
    sys.exit(1 if failures or not results else 0)


if __name__ == "__main__":
    main()
