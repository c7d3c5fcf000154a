#!/usr/bin/env bash
# Perplexity fixtures (Tests/Fixtures/perplexity/): llama.cpp's llama-perplexity on both embedded models over
# text.txt, ctx 512, 3 chunks, 2 threads, -fa off, f16 KV cache (the default of both); Tests/EngineTests/
# PerplexityOracleTests.swift computes feather's perplexity with the same settings and compares.
#   text.txt: the Wikipedia sample (.data/wiki.utf8) after its first <doc> line, to the last line end within
#   16000 bytes (over 3 chunks of 512 tokens for both tokenizers).
#   MODEL.json: ppl (Final estimate), its ± , the running perplexity after each chunk ([1]..[3] as printed, 4
#   decimals), the settings and llama.cpp's version.
# Needs the llama.cpp tools (scripts/oracle/build-llamacpp.sh), .models (scripts/fetch-models.sh) and .data
# (scripts/fetch-data.sh). -fa off: llama.cpp's CPU flash attention rounds Q to F16 and moves the perplexity by
# about 1% (Tests/Fixtures/kld/README.md); feather's attention is f32. The f16 cache is named explicitly: it
# moves this text's perplexity by about 0.4% against an f32 one (see Tests/Fixtures/perplexity/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${LLAMA_BIN:-.oracle/llama.cpp/bin}
MODELS=${FEATHER_MODELS:-.models}
OUT=Tests/Fixtures/perplexity
WORK=.build/perplexity-oracle
CTX=512 CHUNKS=3 THREADS=2 CACHE=f16
mkdir -p "$OUT" "$WORK"
for f in "$BIN/llama-perplexity" "$MODELS/smollm2-135m.gguf" "$MODELS/gemma3-270m.gguf" .data/wiki.utf8; do
  [[ -e $f ]] || { echo "error: $f is missing" >&2; exit 1; }
done

python3 -c 'import sys; d = open(".data/wiki.utf8", "rb").read(); t = d[d.index(b"\n") + 1:][:16000]; sys.stdout.buffer.write(t[:t.rindex(b"\n") + 1])' > "$OUT/text.txt"
# The sdist's version (scripts/oracle/llamacpp-lib.sh) and what the binary says of itself.
stamp=$(ls -a "$BIN/.." | grep -m1 '^\.built-' | sed 's/^\.built-//' || true)
version="${stamp:-unknown build}; $( ("$BIN/llama-perplexity" --version 2>&1 || true) | grep -m1 '^version' || echo 'version unknown')"

for model in smollm2-135m gemma3-270m; do
  log="$WORK/$model.log"
  "$BIN/llama-perplexity" -m "$MODELS/$model.gguf" -f "$OUT/text.txt" -c $CTX -b $CTX --chunks $CHUNKS -t $THREADS \
    --no-warmup -fa off -ctk $CACHE -ctv $CACHE > "$log" 2>&1
  python3 - "$log" "$model" "$version" $CTX $CHUNKS $THREADS $CACHE > "$OUT/$model.json" <<'EOF'
import json, re, sys
log, model, version, ctx, chunks, threads, cache = sys.argv[1:]
text = open(log, encoding="utf-8", errors="replace").read()
running = [float(v) for v in re.findall(r"\[\d+\]([0-9.]+),", text)]
final = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", text)
json.dump({"model": model, "ppl": float(final.group(1)), "ppl_uncertainty": float(final.group(2)), "running": running,
           "settings": {"ctx": int(ctx), "batch": int(ctx), "chunks": int(chunks), "threads": int(threads), "flash_attention": False, "cache_type": cache,
                        "text": "Tests/Fixtures/perplexity/text.txt"},
           "llama_cpp": version.strip(), "source": "scripts/oracle/perplexity_fixtures.sh (llama-perplexity)"},
          sys.stdout, indent=1)
sys.stdout.write("\n")
EOF
  cat "$OUT/$model.json"
done
