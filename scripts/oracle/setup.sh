#!/usr/bin/env bash
# Creates .venv-oracle/ with the pinned oracle packages (scripts/oracle/requirements.txt).
# llama-cpp-python compiles llama.cpp from source: 10-20 min on 2 cores.
# Idempotent: skipped when the venv was built from the same requirements.txt (hash stamp).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-oracle
REQ=scripts/oracle/requirements.txt
STAMP=$VENV/.requirements.sha256
PY=${PYTHON:-python3}

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]] && "$VENV/bin/python" -c 'import llama_cpp, gguf' 2>/dev/null; then
  echo "ok: $VENV up to date"
  exit 0
fi

[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
rm -f "$STAMP"
"$VENV/bin/python" -m pip install --quiet --upgrade pip

# GGML_NATIVE: tune llama.cpp for this CPU (it is only used as a local oracle).
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
start=$(date +%s)
if ! "$VENV/bin/python" -m pip install -r "$REQ"; then
  echo "error: pip install -r $REQ into $VENV failed (see output above)" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import llama_cpp, gguf; print("llama_cpp", llama_cpp.__version__, "gguf", gguf.__version__ if hasattr(gguf, "__version__") else "")'
echo "$want" > "$STAMP"
echo "ok: $VENV ready in $(( $(date +%s) - start ))s"
