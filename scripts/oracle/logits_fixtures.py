#!/usr/bin/env python3
"""Logit fixtures from llama.cpp (llama-cpp-python 0.3.36) for the forward-pass fidelity tests.

For every prompt: llama.cpp's tokens (BOS as the model's metadata says), and for every position
the top-64 token ids with their log-probabilities under llama.cpp's full softmax, plus the greedy
32-token continuation (argmax of llama.cpp's logits, one token at a time).

Real models: .models/gemma3-270m.gguf, .models/smollm2-135m.gguf with the text prompts below.
Synthetic models: written by `feather synthesize` with the parameters in SYNTHETIC (the Swift
tests write the same files with SyntheticModel); prompts are seeded random token ids. Published
shapes (SEED): `feather synthesize CATALOG_ID --layers 2` (1.6 GB each, removed after), text prompts.

    .venv-oracle/bin/python scripts/oracle/logits_fixtures.py [--feather .build/debug/feather] [names...]
Writes Tests/Fixtures/logits/NAME.json.
"""
import argparse, json, os, random, subprocess, sys, tempfile
import numpy as np
import llama_cpp

TOPK = 64
CONTINUATION = 32
N_CTX = 512

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "The quick brown fox jumps over the lazy dog. The quick brown fox",
    "Water boils at 100 degrees Celsius at sea level, but at higher altitudes",
    "1, 2, 3, 4, 5, 6,",
    "To make a cup of tea, first",
    "The theory of relativity was developed by",
    "In 1492, Columbus",
    "Photosynthesis is the process by which plants",
    "import numpy as np\nx = np.",
    "The best way to learn a new language is",
    "Dear hiring manager, I am writing to apply for",
    "Q: What is the largest planet in the solar system?\nA:",
    "Les chats sont des animaux",
    "The recipe calls for two cups of flour, one egg, and",
    "SELECT name, age FROM users WHERE",
    "The stock market fell sharply on Monday after",
    "Mount Everest is the highest mountain",
    "A haiku about autumn:\n",
    "The mitochondria is the powerhouse of the",
    "Machine learning models are trained on",
]

# name -> (architecture, feather synthesize options, random prompt count, prompt length)
SYNTHETIC = {
    "synthetic-llama": ("llama", ["--seed", "11"]),
    "synthetic-mistral3": ("mistral3", ["--head-dim", "128", "--rope-base", "1000000000", "--seed", "12"]),
    "synthetic-gemma3": ("gemma3", ["--layers", "6", "--rope-scaling", "8", "--sliding-window", "16",
                                     "--rope-base", "1000000", "--seed", "13"]),
    "synthetic-gemma3-27b": ("gemma3", ["--layers", "62", "--head-dim", "32", "--sliding-window", "16",
                                         "--ffn", "64", "--seed", "14"]),
}

# Published shapes (issue 26): `feather synthesize CATALOG_ID --layers 2` (the real tokenizer, the Q4_K_M recipe's
# types, random weights); text prompts. name -> (catalog id, feather synthesize options, prompt count)
SEED = {
    "seed-mistral-small-3.1-24b-2L": ("mistral-small-3.1-24b", ["--layers", "2", "--seed", "21"], 6),
    "seed-gemma-3-27b-2L": ("gemma-3-27b", ["--layers", "2", "--seed", "22"], 6),
}


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


def run_model(path, prompts):
    llm = llama_cpp.Llama(model_path=path, logits_all=True, n_ctx=N_CTX, n_threads=2, n_batch=512, verbose=False)
    out = []
    for p in prompts:
        if isinstance(p, str):
            tokens = llm.tokenize(p.encode("utf-8"), add_bos=True, special=False)
        else:
            tokens = list(p)
        llm.reset()
        llm.eval(tokens)
        positions = []
        for i in range(len(tokens)):
            lp = log_softmax(llm.scores[i])
            top = np.argsort(-lp, kind="stable")[:TOPK]
            positions.append({"ids": [int(t) for t in top], "logprobs": [round(float(lp[t]), 6) for t in top]})
        greedy = []
        nxt = int(np.argmax(llm.scores[len(tokens) - 1]))
        for _ in range(CONTINUATION):
            greedy.append(nxt)
            llm.eval([nxt])
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        out.append({"text": p if isinstance(p, str) else None, "tokens": [int(t) for t in tokens],
                    "positions": positions, "greedy": greedy})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--feather", default=".build/debug/feather")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    names = a.names or ["gemma3-270m", "smollm2-135m", *SYNTHETIC]
    os.makedirs("Tests/Fixtures/logits", exist_ok=True)
    for name in names:
        if name in SEED:
            model, opts, count = SEED[name]
            tmp = tempfile.mkdtemp()
            path = os.path.join(tmp, name + ".gguf")
            subprocess.run([a.feather, "synthesize", model, "-o", path, *opts], check=True)
            prompts = PROMPTS[:count]
            source = f"feather synthesize {model} {' '.join(opts)}"
        elif name in SYNTHETIC:
            arch, opts = SYNTHETIC[name]
            tmp = tempfile.mkdtemp()
            path = os.path.join(tmp, name + ".gguf")
            subprocess.run([a.feather, "synthesize", arch, path, *opts], check=True)
            rng = random.Random(name)
            # BOS (2), then ids among the byte and piece tokens; lengths straddle the window.
            prompts = [[2] + [rng.randrange(4, 268) for _ in range(rng.randrange(4, 40))] for _ in range(20)]
            source = f"feather synthesize {arch} {' '.join(opts)}"
        else:
            path = f".models/{name}.gguf"
            prompts = PROMPTS
            source = path
        results = run_model(path, prompts)
        doc = {"model": name, "source": source, "generator": "scripts/oracle/logits_fixtures.py",
               "llama_cpp_python": llama_cpp.__version__, "n_ctx": N_CTX, "top_k": TOPK, "prompts": results}
        with open(f"Tests/Fixtures/logits/{name}.json", "w") as f:
            json.dump(doc, f, separators=(",", ":"))
        if name in SEED:
            os.remove(path)
        print(name, len(results), "prompts", file=sys.stderr)


if __name__ == "__main__":
    main()
