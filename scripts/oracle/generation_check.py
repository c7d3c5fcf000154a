#!/usr/bin/env python3
"""`feather run --temp 0` against llama.cpp's own greedy completion (llama-cpp-python 0.3.36).

    .venv-oracle/bin/python scripts/oracle/generation_check.py FEATHER MODEL.gguf [i,j,...]
Runs the prompts of logits_fixtures.py (or those indices): llama.cpp evaluates each prompt from an
empty cache with only the last logits requested (as a completion does), then 32 greedy tokens;
`feather run MODEL -p PROMPT -n 32 --temp 0` must print the same text.
"""
import os, subprocess, sys
import llama_cpp
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logits_fixtures as L

feather, model = sys.argv[1], sys.argv[2]
sel = [int(i) for i in sys.argv[3].split(",")] if len(sys.argv) > 3 else range(len(L.PROMPTS))
llm = llama_cpp.Llama(model_path=model, n_ctx=512, n_threads=2, n_batch=512, verbose=False)
same = 0
for i in sel:
    p = L.PROMPTS[i]
    llm.reset()  # no reuse of a cached prefix: that would change llama.cpp's batches
    ref = llm(p, max_tokens=32, temperature=0.0, repeat_penalty=1.0, top_k=1)["choices"][0]["text"]
    ours = subprocess.run([feather, "run", model, "-p", p, "-n", "32", "--temp", "0", "-t", "2"],
                          capture_output=True, text=True, check=True).stdout
    ok = ours == ref or ours.rstrip("\n") == ref.rstrip("\n")
    same += ok
    print(i, "same" if ok else "DIFFERS", repr(ref[:50]), "" if ok else repr(ours[:50]), flush=True)
print(f"{same}/{len(sel)} identical")
