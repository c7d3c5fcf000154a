#!/usr/bin/env bash
# The accuracy table of the embedded models on whole benchmarks: MMLU (14,042 questions), GSM8K
# (1,319 problems, 5-shot chain of thought) and GPQA Diamond (198), with `feather eval`'s default
# settings, and the compute time each took. Every finished item goes to the eval's resume cache
# (out/eval-full/MODEL/cache.jsonl) with its own compute time, so the run can be stopped at any moment
# (Ctrl-C, kill, a machine going away) and started again: it continues where it stopped and the
# times add up across runs. On a 2-core machine the whole table takes many hours (MMLU alone runs at
# ~1-2 questions/s); with more cores pass -t.
#
# usage: scripts/eval-table.sh [--models "gemma3-270m smollm2-135m"] [--tasks mmlu,gsm8k,gpqa-diamond]
#          [-t THREADS] [--batch-size N] [--table-only] [--no-build]
#   --batch-size  generation requests (GSM8K) the local engine decodes together (exact: the same text
#                 as one at a time, so a cache filled at one batch size can be continued at another)
#   --table-only  print the table from what the caches hold now, scoring nothing new: tasks with
#                 unfinished items are marked partial (the cached items are scored, nothing more)
# Results: out/eval-full/MODEL/ (results.json, samples_TASK.jsonl, cache.jsonl) and out/eval-full/table.md.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="gemma3-270m smollm2-135m" TASKS=mmlu,gsm8k,gpqa-diamond THREADS="" BATCH=1 TABLE_ONLY=0 BUILD=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) MODELS=$2; shift ;;
    --tasks) TASKS=$2; shift ;;
    -t) THREADS=$2; shift ;;
    --batch-size) BATCH=$2; shift ;;
    --table-only) TABLE_ONLY=1 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n 2,17p "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done

if [[ -n ${FEATHER_BIN:-} ]]; then
  FEATHER=$FEATHER_BIN
else
  [[ $BUILD == 1 ]] && swift build -c release --scratch-path .build-release --product feather >&2
  FEATHER=.build-release/release/feather
fi
[[ -x $FEATHER ]] || { echo "error: $FEATHER missing (build it, or set FEATHER_BIN)" >&2; exit 1; }
OUT=out/eval-full
mkdir -p "$OUT"
T=()
[[ -n $THREADS ]] && T=(-t "$THREADS")

if [[ $TABLE_ONLY == 0 ]]; then
  for m in $MODELS; do
    # One task at a time, so a stop loses at most the item in flight of one task.
    for task in ${TASKS//,/ }; do
      echo "== $m: $task" >&2
      "$FEATHER" eval "$m" --tasks "$task" -o "$OUT/$m" --batch-size "$BATCH" "${T[@]}" >&2
    done
  done
fi

python3 - "$OUT" "$TASKS" $MODELS <<'PY' | tee "$OUT/table.md"
import json, os, sys
out, tasks, models = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
# The cache holds every finished item with its compute time: read it directly, so a table can be
# printed while a run is still going (or was stopped).
rows = []
for m in models:
    cache = os.path.join(out, m, "cache.jsonl")
    items = {}
    if os.path.exists(cache):
        for line in open(cache):
            try:
                e = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            items[(e["task"], e["result"]["id"])] = e
    for task in tasks:
        done = [e for (t, _), e in items.items() if t == task]
        if not done:
            rows.append([m, task, "-", "-", "0", "-"]); continue
        metric = "acc" if task != "gsm8k" else "exact_match,strict-match"
        vals = [e["result"]["metrics"].get(metric) for e in done]
        vals = [v for v in vals if v is not None]
        n = len(vals)
        mean = sum(vals) / n
        se = (sum((v - mean) ** 2 for v in vals) / (n - 1) / n) ** 0.5 if n > 1 else float("nan")
        secs = sum(e.get("seconds") or 0 for e in done)
        total = {"mmlu": 14042, "gsm8k": 1319, "gpqa-diamond": 198}.get(task)
        extra = ""
        if task == "gsm8k":
            fl = [e["result"]["metrics"].get("exact_match,flexible-extract") for e in done]
            fl = [v for v in fl if v is not None]
            extra = f" (flexible-extract {100 * sum(fl) / len(fl):.1f}%)" if fl else ""
        status = f"{n}" + (f" of {total} (partial)" if total and n < total else "")
        rows.append([m, task, metric, f"{100 * mean:.2f}% ± {100 * se:.2f}{extra}", status,
                     f"{secs / 60:.1f} min" if secs else "-"])
hdr = ["model", "task", "metric", "value ± stderr", "n", "compute time"]
w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
print("| " + " | ".join("-" * w[i] for i in range(len(hdr))) + " |")
for r in rows: print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
print()
print("value = share of items right (GSM8K: strict '#### N' match; flexible = last number); stderr = sample sd / sqrt(n);")
print("compute time = the items' own compute times summed (recorded in the resume cache; includes earlier, resumed runs).")
PY
