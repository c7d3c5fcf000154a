#!/usr/bin/env python3
"""Load for `feather serve` (or any OpenAI-compatible server): N concurrent streaming completions.

    scripts/serve-load.py --base http://127.0.0.1:8080 --model smollm2-135m --clients 1 8 --tokens 128

Each client sends one streaming /v1/completions request (ignore_eos, so every stream is exactly
--tokens long where the server honours it) and times its first token and its end. Per client count:
aggregate decode tokens/s = tokens after the first, summed over clients, divided by the wall time from
the earliest first token to the last stream's end; p50/p99 time to first token over the clients.
Standard library only.
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse


def stream_one(base, model, prompt, tokens, out, i, start):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = {"model": model, "prompt": prompt, "max_tokens": tokens, "temperature": 0, "stream": True, "ignore_eos": True}
    start.wait()
    t0 = time.perf_counter()
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"client {i}: HTTP {resp.status}: {resp.read()[:200]!r}")
    first = None
    chunks = 0
    for line in resp:
        if not line.startswith(b"data: {"):
            continue
        data = json.loads(line[6:])
        if data["choices"] and data["choices"][0]["text"]:
            chunks += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    conn.close()
    out[i] = {"start": t0, "first": first, "end": end, "chunks": chunks}


def percentile(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run(base, model, clients, tokens):
    out = [None] * clients
    start = threading.Barrier(clients)
    threads = [threading.Thread(target=stream_one, args=(base, model, f"Story number {i}: once upon a time", tokens, out, i, start))
               for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ttft = [o["first"] - o["start"] for o in out]
    decode_tokens = sum(o["chunks"] - 1 for o in out)
    wall = max(o["end"] for o in out) - min(o["first"] for o in out)
    return {"clients": clients, "tokens_per_stream": tokens, "streamed_chunks": sum(o["chunks"] for o in out),
            "aggregate_decode_tok_s": decode_tokens / wall,
            "ttft_p50_s": percentile(ttft, 50), "ttft_p99_s": percentile(ttft, 99)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="http://127.0.0.1:8080")
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=1, help="untimed single requests first")
    args = ap.parse_args()
    for _ in range(args.warmup):
        run(args.base, args.model, 1, 8)
    results = [run(args.base, args.model, c, args.tokens) for c in args.clients]
    for r in results:
        print(json.dumps(r))
    if len(results) > 1:
        print(json.dumps({"ratio": f"{results[-1]['clients']}-stream / {results[0]['clients']}-stream aggregate decode tok/s",
                          "value": results[-1]["aggregate_decode_tok_s"] / results[0]["aggregate_decode_tok_s"]}))


if __name__ == "__main__":
    main()
