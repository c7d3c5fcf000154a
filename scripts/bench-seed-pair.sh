#!/usr/bin/env bash
# The seed's pair measured here: Mistral Small 3.1 24B and Gemma 3 27B at Q4_K_M, synthesized at full size
# (`feather synthesize`: the published shapes, tensor types and metadata, random weights — speed and memory do not
# depend on weight values), then Featherweight and llama.cpp's llama-bench on the same files, same threads, same run
# (`feather bench --vs-llama-cpp` alternates them test by test). One table: t/s ± sd, ratio, the decode bound
# (memory-read bandwidth of `feather bench --kernels`'s probe / weight bytes read per token) and the fraction of it
# reached, peak RSS of both. One file at a time (each ~15 GB on disk, mapped in memory); removed after.
#
# usage: scripts/bench-seed-pair.sh [--reps N] [--threads N] [-p 512] [-n 128] [--layers N] [--keep] [--models "ID ..."]
#   --layers N  keep the first N blocks (a quick check of the script; not the models' speed)
#   --keep      leave the synthesized files in out/bench-seed-pair/
# Needs .oracle/llama.cpp/bin/llama-bench (scripts/oracle/build-llamacpp.sh). FEATHER_BIN=PATH uses that binary
# instead of building a release one into .build-release. Results: out/bench-seed-pair/ (JSON per model, table.md).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=3 THREADS=2 P=512 N=128 LAYERS="" KEEP=0 MODELS="mistral-small-3.1-24b gemma-3-27b"
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    -p) P=$2; shift ;;
    -n) N=$2; shift ;;
    --layers) LAYERS=$2; shift ;;
    --keep) KEEP=1 ;;
    --models) MODELS=$2; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done

LLAMA_BENCH=.oracle/llama.cpp/bin/llama-bench
[[ -x $LLAMA_BENCH ]] || { echo "error: $LLAMA_BENCH missing; run scripts/oracle/build-llamacpp.sh" >&2; exit 1; }
if [[ -n ${FEATHER_BIN:-} ]]; then
  FEATHER=$FEATHER_BIN
else
  echo "building feather (release)..." >&2
  swift build -c release --scratch-path .build-release --product feather >&2
  FEATHER=.build-release/release/feather
fi
OUT=out/bench-seed-pair
mkdir -p "$OUT"

echo "memory bandwidth probe ($THREADS threads)..." >&2
"$FEATHER" bench --kernels --types '' -t "$THREADS" --json > "$OUT/kernels.json"

for m in $MODELS; do
  file="$OUT/$m-q4_k_m${LAYERS:+-${LAYERS}L}.gguf"
  if [[ ! -f $file ]]; then
    echo "== $m: synthesize" >&2
    "$FEATHER" synthesize "$m" -o "$file" --quant q4_k_m ${LAYERS:+--layers "$LAYERS"} >&2
  fi
  echo "== $m: pp$P, tg$N, $THREADS threads, $REPS repetitions, alternating with llama-bench" >&2
  "$FEATHER" bench "$file" -p "$P" -n "$N" -t "$THREADS" -r "$REPS" --vs-llama-cpp "$LLAMA_BENCH" \
    -o md --result "$OUT/$m.json" >&2
  [[ $KEEP == 1 ]] || rm -f "$file"
done

python3 - "$OUT" "$THREADS" $MODELS <<'PY' | tee "$OUT/table.md"
import json, sys
out, threads, models = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
bw = {r["threads"]: r["gigabytesPerSecond"] for r in json.load(open(f"{out}/kernels.json")) if r["kernel"] == "memory-read"}
def gib(b): return f"{b / 2**30:.2f}" if b else "-"
rows, host = [], None
for m in models:
    r = json.load(open(f"{out}/{m}.json"))
    host = r["host"]
    for mb in r.get("models") or []:
        wpt = mb["model"].get("weightBytesPerToken")
        mark = (mb["model"].get("synthetic") or {})
        layers = f" ({mb['model'].get('fileName')})"
        for t in mb["tests"]:
            l = t.get("llamaCpp") or {}
            bound = frac = "-"
            if t["nPrompt"] == 0 and wpt and bw.get(t["threads"]):
                b = bw[t["threads"]] * 1e9 / wpt
                bound, frac = f"{b:.2f}", f"{t['meanTokensPerSecond'] / b:.0%}"
            rows.append([m + (" [synthetic]" if mark else ""), t["name"],
                         f"{t['meanTokensPerSecond']:.2f} ± {t['sdTokensPerSecond']:.2f}",
                         f"{l['meanTokensPerSecond']:.2f} ± {l['sdTokensPerSecond']:.2f}" if l else "-",
                         f"{l['ratio']:.2f}" if l else "-", bound, frac,
                         f"{gib(t.get('peakResidentBytes'))} / {gib(l.get('peakResidentBytes'))}"])
header = ["model", "test", "Featherweight t/s", "llama.cpp t/s", "ratio", "decode bound t/s", "of bound", "peak RSS GiB (FW / llama.cpp)"]
print(f"CPU: {host.get('cpuModel')} ({' '.join(host.get('cpuFeatures', []))}), isa {host.get('isa')}, {threads} threads; "
      f"memory-read bandwidth {bw.get(threads, 0):.1f} GB/s; synthetic weights: speed and memory only")
print()
print("| " + " | ".join(header) + " |")
print("|" + "|".join("---" for _ in header) + "|")
for row in rows: print("| " + " | ".join(row) + " |")
PY
