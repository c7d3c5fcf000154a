#!/usr/bin/env bash
# KL-divergence fixtures (Tests/Fixtures/kld/), both directions between llama-perplexity and feather:
#   (a) llama-perplexity writes the base of SmolLM2-135M on text.txt (ctx 32, 2 chunks: 30 scored positions,
#       2.9 MB; each position stores the whole 49152-token vocabulary in 98 KB) and scores the same model
#       against it: llama-self.txt. The test reads that base with feather and compares the statistics.
#   (b) feather writes bases of the same model (ctx 32 × 2 chunks, and ctx 128 × 2 chunks: 126 positions,
#       enough for llama-perplexity's closing statistics, which it prints only from 100 positions); llama-perplexity
#       scores the model against them: llama-on-feather-32.txt, llama-on-feather-128.txt. The bases themselves
#       are not kept (the test writes them again).
# Needs the llama.cpp tools (scripts/oracle/build-llamacpp.sh), .models (scripts/fetch-models.sh), .data
# (scripts/fetch-data.sh) and a built feather (swift build --product feather).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${LLAMA_BIN:-.oracle/llama.cpp/bin}
FEATHER=${FEATHER_BIN:-.build/debug/feather}
MODEL=${FEATHER_MODELS:-.models}/smollm2-135m.gguf
OUT=Tests/Fixtures/kld
WORK=.build/kld-oracle
mkdir -p "$OUT" "$WORK"
for f in "$BIN/llama-perplexity" "$FEATHER" "$MODEL" .data/wiki.utf8; do [[ -e $f ]] || { echo "error: $f is missing" >&2; exit 1; }; done

# The Wikipedia sample after its first <doc> line, up to the last line end within 3000 bytes (about 650 tokens).
python3 -c 'import sys; d = open(".data/wiki.utf8", "rb").read(); t = d[d.index(b"\n") + 1:][:3000]; sys.stdout.buffer.write(t[:t.rindex(b"\n") + 1])' > "$OUT/text.txt"

# Only the statistics lines of llama-perplexity's log: the chunk rows and the closing summary.
stats() { grep -E '^ *[0-9]+ +[0-9.]+ ± |^(Mean|Maximum|Minimum|Median|RMS|Same|Cor)|^ ?[0-9.]+%|^======' || true; }
# -fa off: llama.cpp's CPU flash attention (on by default) rounds Q to F16, which moves this text's ctx-128
# perplexity from 6.913 to 7.032 (feather, attention in f32: 6.914); without it both engines compute alike.
llama() { "$BIN/llama-perplexity" -m "$MODEL" -t 2 --no-warmup -fa off "$@"; }

# (a) llama-perplexity's base, and llama-perplexity's own statistics against it.
llama -f "$OUT/text.txt" -c 32 -b 32 --chunks 2 --kl-divergence-base "$OUT/smollm2-135m-ctx32.llama.kld" > "$WORK/llama-base.log" 2>&1
grep -E 'Final estimate|^\[' "$WORK/llama-base.log" | tail -n 2 > "$OUT/llama-base-ppl.txt"
llama -c 32 -b 32 --kl-divergence-base "$OUT/smollm2-135m-ctx32.llama.kld" --kl-divergence > "$WORK/llama-self.log" 2>&1
stats < "$WORK/llama-self.log" > "$OUT/llama-self.txt"

# (b) feather's bases scored by llama-perplexity.
for ctx in 32 128; do
  "$FEATHER" perplexity "$MODEL" -f "$OUT/text.txt" --ctx $ctx --chunks 2 -t 2 --kl-divergence-base "$WORK/feather-ctx$ctx.kld" > "$WORK/feather-base-$ctx.log" 2>&1
  llama -c $ctx -b $ctx --kl-divergence-base "$WORK/feather-ctx$ctx.kld" --kl-divergence > "$WORK/llama-on-feather-$ctx.log" 2>&1
  stats < "$WORK/llama-on-feather-$ctx.log" > "$OUT/llama-on-feather-$ctx.txt"
done
grep -m1 -o 'system_info: .*' "$WORK/llama-self.log" > "$OUT/llama-system-info.txt" || true
ls -l "$OUT"
