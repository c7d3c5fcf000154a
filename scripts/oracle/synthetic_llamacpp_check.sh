#!/usr/bin/env bash
# llama.cpp loads and runs every file `feather synthesize` writes: for each catalog id (default: all of them), a file
# truncated to 2 blocks (--layers 2) at each recipe given, run by llama-bench (a 16-token prompt and 4 decode steps);
# with --full the seed pair (mistral-small-3.1-24b, gemma-3-27b) at full size too, one at a time, removed after.
# Logits of the 2-block seed-pair files against llama.cpp: scripts/oracle/logits_fixtures.py (SEED), checked by
# Tests/WeighTests/SynthesisTests.swift.
#
# usage: scripts/oracle/synthetic_llamacpp_check.sh [--full] [--quants "q4_k_m q8_0 q4_0 f16"] [IDS...]
# Needs .oracle/llama.cpp/bin/llama-bench (scripts/oracle/build-llamacpp.sh) and a feather binary (FEATHER_BIN,
# default .build/debug/feather). Prints one line per file: PASS/FAIL, the id, recipe, layers, llama-bench's t/s.
set -euo pipefail
cd "$(dirname "$0")/../.."
FEATHER=${FEATHER_BIN:-.build/debug/feather}
LLAMA_BENCH=.oracle/llama.cpp/bin/llama-bench
FULL=0 QUANTS="q4_k_m"
IDS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --full) FULL=1 ;;
    --quants) QUANTS=$2; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) IDS+=("$1") ;;
  esac
  shift
done
[[ -x $LLAMA_BENCH ]] || { echo "error: $LLAMA_BENCH missing; run scripts/oracle/build-llamacpp.sh" >&2; exit 1; }
if [[ ${#IDS[@]} -eq 0 ]]; then
  IDS=(gemma-3-270m gemma-3-1b gemma-3-4b gemma-3-12b gemma-3-27b mistral-small-3.1-24b smollm2-135m smollm2-360m smollm2-1.7b
       llama-3.1-8b llama-3.2-1b llama-3.2-3b qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b qwen2.5-7b)
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/feather-synth-check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fails=0
check() {  # id quant layers
  local f="$TMP/$1-$2-$3.gguf" layers=()
  [[ $3 == full ]] || layers=(--layers "$3")
  if ! "$FEATHER" synthesize "$1" -o "$f" --quant "$2" "${layers[@]}" >"$TMP/synth.log" 2>&1; then
    echo "FAIL $1 $2 $3: feather synthesize: $(tail -n1 "$TMP/synth.log")"; fails=$((fails + 1)); return
  fi
  if out=$("$LLAMA_BENCH" -m "$f" -p 16 -n 4 -r 1 -t 2 -o csv 2>"$TMP/llama.log"); then
    rates=$(echo "$out" | python3 -c 'import csv,sys; print(", ".join("%s/%s: %.2f t/s" % (r["n_prompt"], r["n_gen"], float(r["avg_ts"])) for r in csv.DictReader(sys.stdin)))')
    echo "PASS $1 $2 $3 layers: llama-bench $rates"
  else
    echo "FAIL $1 $2 $3: llama-bench: $(grep -m1 -iE 'error|fail' "$TMP/llama.log" || tail -n1 "$TMP/llama.log")"; fails=$((fails + 1))
  fi
  rm -f "$f"
}
for id in "${IDS[@]}"; do for q in $QUANTS; do check "$id" "$q" 2; done; done
if [[ $FULL == 1 ]]; then
  for id in mistral-small-3.1-24b gemma-3-27b; do check "$id" q4_k_m full; done
fi
echo "$fails failures"
[[ $fails == 0 ]]
