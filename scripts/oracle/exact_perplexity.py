"""Exact perplexity of the fixture text: the float64 forward pass of scripts/oracle/exact_reference.py over the
GGUF's own dequantized weights, scored as llama-perplexity scores (chunks of CTX tokens, BOS first when the model
adds one, the second half of each chunk predicting the next token). Writes "exact" into
Tests/Fixtures/perplexity/MODEL.json so PerplexityOracleTests can tell which engine is closer to exact arithmetic.

    scripts/oracle/setup-exact.sh
    .venv-exact/bin/python scripts/oracle/exact_perplexity.py smollm2-135m gemma3-270m
Tokens: llama.cpp's llama-tokenize (.oracle/llama.cpp/bin) on Tests/Fixtures/perplexity/text.txt.
"""
import json, math, os, subprocess, sys, time
import numpy as np
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exact_reference import Exact

FIXTURES = "Tests/Fixtures/perplexity"

def main():
    for model in sys.argv[1:] or ["smollm2-135m", "gemma3-270m"]:
        t0 = time.time()
        fx_path = f"{FIXTURES}/{model}.json"
        fx = json.load(open(fx_path))
        ctx, chunks = fx["settings"]["ctx"], fx["settings"]["chunks"]
        out = subprocess.run([".oracle/llama.cpp/bin/llama-tokenize", "-m", f".models/{model}.gguf", "-f", f"{FIXTURES}/text.txt",
                              "--ids", "--log-disable"], capture_output=True, text=True, check=True).stdout
        tokens = json.loads(out.strip().splitlines()[-1])
        ex = Exact(f".models/{model}.gguf")
        first = ctx // 2
        nll, count, running = 0.0, 0, []
        for c in range(chunks):
            chunk = [int(t) for t in tokens[c * ctx:(c + 1) * ctx]]
            assert len(chunk) == ctx, "text shorter than the chunks"
            if ex.add_bos and ex.bos is not None:
                chunk[0] = int(ex.bos)
            lp = ex.log_softmax(chunk)
            for i in range(first, ctx - 1):
                nll -= float(lp[i, chunk[i + 1]])
                count += 1
            running.append(math.exp(nll / count))
            print(f"{model} chunk {c + 1}: exact ppl {running[-1]:.6f}", flush=True)
        fx["exact"] = {"ppl": round(running[-1], 6), "running": [round(r, 6) for r in running], "positions": count,
                       "source": "scripts/oracle/exact_perplexity.py (float64 forward pass of the dequantized GGUF weights, "
                                 "llama-tokenize's tokens, llama-perplexity's chunks and scored positions)"}
        with open(fx_path, "w") as f:
            json.dump(fx, f, indent=1)
            f.write("\n")
        print(f"{model}: exact ppl {running[-1]:.6f} (llama-perplexity {fx['ppl']}) in {time.time() - t0:.0f} s")

if __name__ == "__main__":
    main()
