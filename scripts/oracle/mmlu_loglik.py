#!/usr/bin/env python3
"""MMLU log-likelihoods through llama-cpp-python, the oracle for `feather eval --tasks mmlu`.

    .venv-oracle/bin/python scripts/oracle/mmlu_loglik.py MODEL.gguf OUT.json [--n 500] [--seed 2024] [--data .data/mmlu_test.jsonl]

A seeded sample of questions (random.Random(seed).sample over the file's rows), 0-shot, in
lm-evaluation-harness's MMLU prompt. For each question the log-likelihood of the continuations
" A".." D" after the prompt, split as lm-eval's _encode_pair does (the context's trailing spaces
move to the continuation; the pair is tokenized whole and the continuation is what follows the
separately tokenized context), then llama.cpp's argmax. The fixture keeps item ids, the choice
and the four logprobs; never the question text.
"""
import argparse, json, math, random, re
import numpy as np
import llama_cpp

ap = argparse.ArgumentParser()
ap.add_argument("model"); ap.add_argument("out")
ap.add_argument("--n", type=int, default=500); ap.add_argument("--seed", type=int, default=2024)
ap.add_argument("--data", default=".data/mmlu_test.jsonl")
a = ap.parse_args()

rows = [json.loads(l) for l in open(a.data, encoding="utf-8") if l.strip()]
picked = sorted(random.Random(a.seed).sample(range(len(rows)), a.n))
llm = llama_cpp.Llama(model_path=a.model, n_ctx=4096, n_batch=512, n_threads=2, logits_all=False, verbose=False)
n_vocab = llm.n_vocab()

def tok(text):
    return llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

def prompt(r):
    # lm-eval mmlu/default: description, then doc_to_text.
    return (f"The following are multiple choice questions (with answers) about {r['topic']}.\n\n"
            f"{r['question'].strip()}\nA. {r['answer_a']}\nB. {r['answer_b']}\nC. {r['answer_c']}\nD. {r['answer_d']}\nAnswer:")

items = []
for k, i in enumerate(picked):
    r = rows[i]
    context = prompt(r)
    trimmed = re.sub(r"\s+$", "", context)
    ctx = tok(trimmed)
    conts = []
    for letter in "ABCD":
        cont = context[len(trimmed):] + " " + letter
        whole = tok(trimmed + cont)
        c = whole[len(ctx):]
        assert len(c) == 1, f"continuation {cont!r} is {len(c)} tokens; this script scores single-token continuations"
        conts.append(c[0])
    llm.reset()
    llm.eval(ctx)
    x = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,)).astype(np.float64)
    m = x.max(); lse = m + math.log(np.exp(x - m).sum())
    lps = [float(x[t] - lse) for t in conts]
    items.append({"id": f"mmlu_test:{i}", "choice": int(np.argmax(lps)), "logprobs": [round(v, 5) for v in lps]})
    if (k + 1) % 50 == 0: print(f"{k + 1}/{len(picked)}", flush=True)

json.dump({"about": "llama-cpp-python %s log-likelihoods of ' A'..' D' for a seeded MMLU sample, 0-shot, lm-eval prompt; "
                    "regenerate with scripts/oracle/mmlu_loglik.py MODEL OUT --n %d --seed %d" % (llama_cpp.__version__, a.n, a.seed),
           "model": a.model.split("/")[-1], "seed": a.seed, "n": a.n, "items": items},
          open(a.out, "w"), indent=1)
print("wrote", a.out)
