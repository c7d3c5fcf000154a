#!/usr/bin/env bash
# Serving load test of `feather serve` against llama.cpp's `llama-server` on the same GGUF files: both real
# servers, started here on 127.0.0.1 (free ports), one at a time so they never share the CPU, with the same
# threads, the same number of parallel sequences and the same context per sequence. Per model: feather serve,
# then llama-server, each driven by `feather bench --endpoint` (streaming /v1/chat/completions, random prompts,
# ignore_eos, usage from stream_options.include_usage). Prints one Markdown table per model, side by side.
#
# usage: scripts/bench-serve.sh [--models "gemma3-270m smollm2-135m"] [--concurrency 1,4,8] [--num-prompts 16]
#          [--input-tokens 32] [--output-tokens 32] [-t THREADS] [--parallel 8] [--ctx 1024]
#          [--llama-prompt-cache] [--llama-server PATH] [--no-build]
#   -t                   threads of both servers (default: the physical cores)
#   --parallel           sequences decoded together: feather serve --parallel, llama-server -np
#   --ctx                context per sequence: feather serve --ctx N, llama-server -c N×parallel (its slots split -c)
#   --llama-prompt-cache leave llama-server's prompt cache on (its default): it then reuses the KV cache of the
#                        chat template's prefix that all prompts share. feather serve has no prompt cache, so by
#                        default llama-server runs with --no-cache-prompt and both prefill every prompt in full.
#   --no-build           use .build-release/release/feather as it is
# Results: out/bench-serve/ (each server's log, each load test's JSON result and Markdown, table.md).
# Timings on a shared or busy machine are noisy: llama.cpp's threads spin-wait, so it suffers more than
# feather serve when another process takes a core. Not part of `make test` (it takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS="gemma3-270m smollm2-135m" CONCURRENCY=1,4,8 NUM_PROMPTS=16 INPUT_TOKENS=32 OUTPUT_TOKENS=32
THREADS="" PARALLEL=8 CTX=1024 PROMPT_CACHE=0 BUILD=1 LLAMA_SERVER=.oracle/llama.cpp/bin/llama-server
while [[ $# -gt 0 ]]; do
  case $1 in
    --models) MODELS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --num-prompts) NUM_PROMPTS=$2; shift ;;
    --input-tokens) INPUT_TOKENS=$2; shift ;;
    --output-tokens) OUTPUT_TOKENS=$2; shift ;;
    -t|--threads) THREADS=$2; shift ;;
    --parallel) PARALLEL=$2; shift ;;
    --ctx) CTX=$2; shift ;;
    --llama-prompt-cache) PROMPT_CACHE=1 ;;
    --llama-server) LLAMA_SERVER=$2; shift ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n 2,21p "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
  [[ $# -gt 0 ]] && shift
done
for v in NUM_PROMPTS INPUT_TOKENS OUTPUT_TOKENS PARALLEL CTX; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "error: --$(tr A-Z_ a-z- <<<"$v") must be a positive integer" >&2; exit 1; }
done
[[ $CONCURRENCY =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "error: --concurrency is a comma-separated list of positive integers" >&2; exit 1; }
if [[ -z $THREADS ]]; then
  THREADS=$(lscpu -p=Core,Socket 2>/dev/null | grep -v '^#' | sort -u | wc -l)
  [[ $THREADS -ge 1 ]] || THREADS=$(nproc)
fi
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || { echo "error: -t must be a positive integer" >&2; exit 1; }
[[ -x $LLAMA_SERVER ]] || { echo "error: $LLAMA_SERVER missing (scripts/oracle/build-llamacpp.sh builds it)" >&2; exit 1; }
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 1; }

FEATHER=.build-release/release/feather
if [[ $BUILD == 1 ]]; then
  echo "building feather (release)..." >&2
  swift build -c release --scratch-path .build-release --product feather >&2
fi
[[ -x $FEATHER ]] || { echo "error: $FEATHER missing (run without --no-build)" >&2; exit 1; }
OUT=out/bench-serve
mkdir -p "$OUT"

SERVER_PID=""
stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until GET /health answers 200 (llama-server answers 503 while it loads), at most 180 s.
wait_ready() {
  local port=$1 log=$2
  for _ in $(seq 1800); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "error: the server exited before it was ready; last lines of $log:" >&2; tail -n 20 "$log" >&2; exit 1
    fi
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
    sleep 0.1
  done
  echo "error: no answer from http://127.0.0.1:$port/health after 180 s; see $log" >&2; exit 1
}

load_test() {
  local port=$1 model=$2 name=$3
  echo "== $model on $name: concurrency $CONCURRENCY, $NUM_PROMPTS prompts of ~$INPUT_TOKENS words, $OUTPUT_TOKENS output tokens" >&2
  "$FEATHER" bench --endpoint "http://127.0.0.1:$port" --model "$model" --concurrency "$CONCURRENCY" \
    --num-prompts "$NUM_PROMPTS" --input-tokens "$INPUT_TOKENS" --output-tokens "$OUTPUT_TOKENS" \
    --result "$OUT/$model-$name.json" -o md > "$OUT/$model-$name.md"
}

LLAMA_CACHE_FLAG=--no-cache-prompt
[[ $PROMPT_CACHE == 1 ]] && LLAMA_CACHE_FLAG=--cache-prompt
"$LLAMA_SERVER" --version > "$OUT/llama-server-version.txt" 2>&1 || true
MODELS_JSON=$("$FEATHER" models --json)
for m in $MODELS; do
  gguf=$(python3 -c 'import json, sys
print(next((x["path"] for x in json.loads(sys.argv[1]) if x.get("name") == sys.argv[2]), sys.argv[2]))' "$MODELS_JSON" "$m")
  [[ -f $gguf ]] || { echo "error: model $m not found (scripts/fetch-models.sh fetches the embedded ones)" >&2; exit 1; }

  # The same prompt for both: a file without a chat template gets feather's built-in one (Gemma turn
  # markers or ChatML); llama-server would fall back to ChatML for all, so name its built-in equivalent.
  template=$("$FEATHER" inspect "$gguf" --json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("chatTemplate", ""))')
  case $template in
    "built-in gemma") LLAMA_TEMPLATE=(--no-jinja --chat-template gemma) ;;
    "built-in chatml") LLAMA_TEMPLATE=(--no-jinja --chat-template chatml) ;;
    *) LLAMA_TEMPLATE=() ;;
  esac

  port=$(free_port)
  echo "== starting feather serve $m on port $port (-t $THREADS, --parallel $PARALLEL, --ctx $CTX)" >&2
  "$FEATHER" serve "$gguf" --host 127.0.0.1 --port "$port" --parallel "$PARALLEL" --ctx "$CTX" -t "$THREADS" \
    > "$OUT/$m-feather-server.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$port" "$OUT/$m-feather-server.log"
  load_test "$port" "$m" feather
  stop_server

  port=$(free_port)
  echo "== starting llama-server $m on port $port (-t $THREADS, -np $PARALLEL, -c $((CTX * PARALLEL)), $LLAMA_CACHE_FLAG ${LLAMA_TEMPLATE[*]-})" >&2
  "$LLAMA_SERVER" -m "$gguf" --alias "$m" --host 127.0.0.1 --port "$port" -np "$PARALLEL" -c $((CTX * PARALLEL)) \
    -t "$THREADS" --no-webui "$LLAMA_CACHE_FLAG" ${LLAMA_TEMPLATE[@]+"${LLAMA_TEMPLATE[@]}"} > "$OUT/$m-llamacpp-server.log" 2>&1 &
  SERVER_PID=$!
  wait_ready "$port" "$OUT/$m-llamacpp-server.log"
  load_test "$port" "$m" llamacpp
  stop_server
done

python3 - "$OUT" "$THREADS" "$PARALLEL" "$CTX" "$PROMPT_CACHE" $MODELS <<'PY' | tee "$OUT/table.md"
import json, sys
out, threads, parallel, ctx, prompt_cache, models = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1", sys.argv[6:]
servers = [("feather", "feather serve"), ("llamacpp", "llama-server")]
def f(v, digits=1): return "-" if v is None else f"{v:.{digits}f}"
host = None
for m in models:
    res = {}
    for key, _ in servers:
        r = json.load(open(f"{out}/{m}-{key}.json"))
        host = r["host"]
        res[key] = {run["concurrency"]: run for run in r["serving"]["runs"]}
    s = json.load(open(f"{out}/{m}-feather.json"))["serving"]
    print(f"### {m}: {s['numPrompts']} requests per run, ~{s['inputTokens']} words per prompt, {s['outputTokens']} output tokens (ignore_eos)\n")
    hdr = ["concurrency", "server", "req/s", "output tok/s", "TTFT mean ms", "TTFT p50 ms", "TTFT p99 ms", "TPOT mean ms",
           "ITL p50 ms", "E2E mean ms", "errors", "input tok/req", "chunks/token"]
    rows, ratios = [], []
    for c in sorted(set(res["feather"]) | set(res["llamacpp"])):
        for key, label in servers:
            run = res[key].get(c)
            if run is None:
                rows.append([str(c), label] + ["-"] * (len(hdr) - 2)); continue
            done = run["completed"]
            errors = ", ".join(f"{k} {v}" for k, v in sorted(run["errors"].items())) or "0"
            if run["cancelled"]: errors += f" (+{run['cancelled']} cancelled)"
            # Chunks with text = one first chunk per request + one per inter-token gap.
            chunks = run["ttftMilliseconds"]["count"] + run["itlMilliseconds"]["count"]
            out_tokens = run["totalOutputTokens"]
            rows.append([str(c), label, f(run["requestThroughput"], 3), f(run["outputTokenThroughput"]),
                         f(run["ttftMilliseconds"].get("mean")), f(run["ttftMilliseconds"].get("median")),
                         f(run["ttftMilliseconds"].get("p99")), f(run["tpotMilliseconds"].get("mean")),
                         f(run["itlMilliseconds"].get("median")), f(run["e2elMilliseconds"].get("mean")), errors,
                         f(run["totalInputTokens"] / done if done else None) + ("" if run["inputTokenSource"] == "usage" else " (words)"),
                         f(chunks / out_tokens if out_tokens else None, 2) + ("" if run["tokenCountSource"] == "usage" else " (no usage)")])
        a, b = res["feather"].get(c), res["llamacpp"].get(c)
        if a and b and b["outputTokenThroughput"] > 0:
            ratios.append(f"concurrency {c}: {a['outputTokenThroughput'] / b['outputTokenThroughput']:.2f}")
    w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
    print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
    print("| " + " | ".join("-" * w[i] for i in range(len(hdr))) + " |")
    for r in rows: print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
    print(f"\noutput tok/s, feather serve / llama-server: {'; '.join(ratios) or '-'}\n")
print(f"Both servers: -t {threads}, {parallel} parallel sequences, {ctx} tokens of context per sequence, one server running "
      f"at a time; llama-server prompt cache {'on (its default)' if prompt_cache else 'off (--no-cache-prompt), as feather serve has none'}.")
print("Metrics as `feather bench --endpoint` defines them (vLLM benchmark_serving's): TTFT to the first chunk with text, "
      "TPOT = (E2E - TTFT) / (output tokens - 1) per request, ITL = gaps between chunks with text, pooled. "
      "Output tokens = the server's usage.completion_tokens; input tok/req = its usage.prompt_tokens, chat template "
      "included (a file without a template gets feather's built-in one, and llama-server the same built-in by name); chunks/token = streamed chunks "
      "with text per output token (1.00: one chunk per token, so ITL is per token).")
print(f"host: {host['cpuModel']}, {host['physicalCores']} physical cores, isa {host['isa']}; "
      "the machine may be shared: timings are noisy.")
PY
