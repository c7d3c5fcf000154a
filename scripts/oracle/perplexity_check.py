#!/usr/bin/env python3
"""llama-perplexity's method through llama-cpp-python, to compare with `feather perplexity`.

    .venv-oracle/bin/python scripts/oracle/perplexity_check.py MODEL.gguf FILE [--ctx 512] [--chunks N]
Tokens of the whole text (BOS as the model says), chunks of ctx tokens with BOS first, each
evaluated from an empty cache, the second half scored (positions ctx/2 .. ctx-2 predict the next).
"""
import argparse, math
import numpy as np
import llama_cpp

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("file")
ap.add_argument("--ctx", type=int, default=512); ap.add_argument("--chunks", type=int)
a = ap.parse_args()
llm = llama_cpp.Llama(model_path=a.model, logits_all=True, n_ctx=a.ctx, n_batch=a.ctx, n_threads=2, verbose=False)
text = open(a.file, encoding="utf-8").read()
tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
n = len(tokens) // a.ctx
if a.chunks: n = min(n, a.chunks)
add_bos = llm._model.add_bos_token() if hasattr(llm._model, "add_bos_token") else True
nll, count = 0.0, 0
for c in range(n):
    chunk = tokens[c * a.ctx:(c + 1) * a.ctx]
    if add_bos: chunk[0] = llm.token_bos()
    llm.reset(); llm.eval(chunk)
    for j in range(a.ctx // 2, a.ctx - 1):
        x = np.asarray(llm.scores[j], dtype=np.float64)
        m = x.max(); lse = m + math.log(np.exp(x - m).sum())
        nll += lse - x[chunk[j + 1]]; count += 1
    print(f"[{c + 1}] {math.exp(nll / count):.4f}")
print(f"perplexity: {math.exp(nll / count):.4f} over {n} chunks ({count} scored tokens, ctx {a.ctx})")
