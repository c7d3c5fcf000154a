#!/usr/bin/env bash
# `feather pull` and model discovery end to end, against scripts/mock-hf-hub.py on loopback (never the real hub):
# a pull into a temporary HF_HOME, the pulled model used by name (models, inspect, run), a second pull that downloads
# nothing, offline mode, an Ollama store, and bad input (exit 1, one line, nothing left under the final name).
#   FEATHER_BIN: the feather binary to test (default .build/debug/feather, built by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
FEATHER=${FEATHER_BIN:-.build/debug/feather}
[[ -x $FEATHER ]] || { echo "error: $FEATHER is missing: run swift build first" >&2; exit 1; }
SMOL=.models/smollm2-135m.gguf
[[ -f $SMOL ]] || { echo "error: $SMOL is missing: run scripts/fetch-models.sh" >&2; exit 1; }
FEATHER=$(realpath "$FEATHER"); SMOL=$(realpath "$SMOL")

tmp=$(mktemp -d)
hub_pid=
cleanup() { [[ -n $hub_pid ]] && kill "$hub_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
passes=0
pass() { echo "ok: $*"; passes=$((passes + 1)); }

head -c 1000 /dev/urandom > "$tmp/other.gguf"
cat > "$tmp/spec.json" <<JSON
{"repos": {
  "test-org/SmolLM2-GGUF": {"files": {"SmolLM2-135M-Instruct-Q4_1.gguf": "$SMOL", "SmolLM2-135M-Instruct-Q8_0.gguf": "$tmp/other.gguf"}},
  "test-org/no-gguf": {"files": {"model.safetensors": "$tmp/other.gguf"}},
  "test-org/twins": {"files": {"a-Q4_K_XL.gguf": "$tmp/other.gguf", "a-UD-Q4_K_XL.gguf": "$tmp/other.gguf"}},
  "test-org/gated": {"files": {"g-Q4_K_M.gguf": "$tmp/other.gguf"}, "gated": true}},
 "token": "hf_right"}
JSON
python3 scripts/mock-hf-hub.py --spec "$tmp/spec.json" --log "$tmp/requests.jsonl" > "$tmp/port" &
hub_pid=$!
for _ in $(seq 100); do [[ -s $tmp/port ]] && break; sleep 0.1; done
port=$(awk '{print $2}' "$tmp/port")
[[ -n $port ]] || { echo "error: the mock hub did not start" >&2; exit 1; }

export HF_HOME=$tmp/hf HF_ENDPOINT=http://127.0.0.1:$port OLLAMA_MODELS=$tmp/ollama FEATHER_MODELS=$tmp/empty HOME=$tmp/home
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE HF_HUB_CACHE XDG_CACHE_HOME
mkdir -p "$tmp/work" && cd "$tmp/work"
repo_dir=$HF_HOME/hub/models--test-org--SmolLM2-GGUF

# A pull, then the model by name in other commands.
if out=$("$FEATHER" pull hf.co/test-org/SmolLM2-GGUF:q4_1 2> "$tmp/err"); then
  [[ $out == "test-org/SmolLM2-GGUF:Q4_1"$'\t'"$repo_dir"/snapshots/*/SmolLM2-135M-Instruct-Q4_1.gguf ]] && pass "pull prints name and path" || fail "pull printed: $out"
  cmp -s "$(realpath "${out#*$'\t'}")" "$SMOL" && pass "pulled file equals the hub's" || fail "pulled file differs"
  grep -q "downloaded" "$tmp/err" && pass "pull reports what it downloaded" || fail "pull stderr: $(cat "$tmp/err")"
else
  fail "pull exited $?: $(cat "$tmp/err")"
fi
"$FEATHER" models | grep -q "^test-org/SmolLM2-GGUF:Q4_1 .*hugging face cache" && pass "models lists the pulled model" || fail "models: $("$FEATHER" models 2>&1)"
"$FEATHER" inspect test-org/SmolLM2-GGUF:Q4_1 | grep -qi "llama" && pass "inspect resolves the pulled model" || fail "inspect"
# fit and compare resolve names through Weigh's ModelResolver.
"$FEATHER" fit test-org/SmolLM2-GGUF:Q4_1 --hardware rtx-4090 | grep -q "rtx-4090\|RTX 4090" && pass "fit resolves the pulled model" || fail "fit"
gen=$("$FEATHER" run test-org/SmolLM2-GGUF:Q4_1 -p "Hello" -n 2 --temp 0 2>/dev/null) && pass "run resolves the pulled model" || fail "run: $gen"

# A second pull downloads nothing; offline mode never asks the hub.
gets=$(grep -c '"GET", "path": "/cdn/' "$tmp/requests.jsonl")
"$FEATHER" pull test-org/SmolLM2-GGUF:Q4_1 > /dev/null 2> "$tmp/err" && grep -q "nothing downloaded" "$tmp/err" \
  && [[ $(grep -c '"GET", "path": "/cdn/' "$tmp/requests.jsonl") == "$gets" ]] && pass "second pull is a no-op" || fail "second pull: $(cat "$tmp/err")"
requests=$(wc -l < "$tmp/requests.jsonl")
HF_HUB_OFFLINE=1 "$FEATHER" pull test-org/SmolLM2-GGUF:Q4_1 > /dev/null 2>&1 && [[ $(wc -l < "$tmp/requests.jsonl") == "$requests" ]] \
  && pass "offline pull uses the cache" || fail "offline pull"

# An Ollama store: a manifest whose model layer is the GGUF blob.
digest=$(sha256sum "$SMOL" | cut -d' ' -f1)
mkdir -p "$OLLAMA_MODELS/blobs" "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/smollm2"
ln -s "$SMOL" "$OLLAMA_MODELS/blobs/sha256-$digest"
echo "{\"layers\":[{\"mediaType\":\"application/vnd.ollama.image.model\",\"digest\":\"sha256:$digest\",\"size\":1}]}" \
  > "$OLLAMA_MODELS/manifests/registry.ollama.ai/library/smollm2/135m"
"$FEATHER" inspect smollm2:135m | grep -qi "llama" && pass "an Ollama name resolves" || fail "ollama name"

# Bad input: exit 1, one line on stderr, nothing under the final name.
expect_error() {  # WHAT PATTERN ARGS...
  local what=$1 pattern=$2; shift 2
  local code=0
  "$FEATHER" "$@" > "$tmp/out" 2> "$tmp/err" || code=$?
  if [[ $code == 1 && $(wc -l < "$tmp/err") == 1 ]] && grep -q "$pattern" "$tmp/err"; then pass "$what"
  else fail "$what: exit $code, stderr: $(cat "$tmp/err")"; fi
}
expect_error "unknown repo" "not found" pull test-org/missing
expect_error "repo without GGUF" "has no .gguf file" pull test-org/no-gguf
expect_error "ambiguous tag" "matches several GGUFs" pull test-org/twins:Q4_K_XL
expect_error "unknown tag" "no GGUF tagged 'Q2_K'" pull test-org/SmolLM2-GGUF:Q2_K
expect_error "gated without token" "accept its licence" pull test-org/gated
mkdir -p test-org && touch test-org/SmolLM2-GGUF
expect_error "file and repo" "is both a file here and a repo" pull test-org/SmolLM2-GGUF
expect_error "not a repo" "is not a Hugging Face repo" pull gemma3-270m
expect_error "unknown model name" "not found" inspect test-org/nothing:Q4_K_M
HF_HUB_OFFLINE=1 expect_error "offline and not cached" "HF_HUB_OFFLINE" pull test-org/SmolLM2-GGUF:Q8_0
for r in missing no-gguf twins gated; do
  [[ -z $(find "$HF_HOME/hub" -path "*models--test-org--$r/snapshots/*" 2>/dev/null) ]] || fail "files left for test-org/$r"
done
[[ -z $(find "$HF_HOME/hub" -name '*.incomplete') ]] && pass "no partial files left" || fail "partial files left"

HF_TOKEN=hf_right "$FEATHER" pull test-org/gated > /dev/null 2>&1 && pass "gated with token" || fail "gated with token"

echo "pull: $passes passed, $failures failed"
if (( failures )); then exit 1; fi
