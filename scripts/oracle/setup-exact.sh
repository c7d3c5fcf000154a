#!/usr/bin/env bash
# Creates .venv-exact/ for scripts/oracle/exact_reference.py (float64 reference forward pass and its
# transformers cross-check) from scripts/oracle/requirements-exact.txt. Idempotent (hash stamp).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-exact
REQ=scripts/oracle/requirements-exact.txt
STAMP=$VENV/.requirements.sha256
PY=${PYTHON:-python3}

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]] && "$VENV/bin/python" -c 'import numpy, gguf, torch, transformers' 2>/dev/null; then
  echo "ok: $VENV up to date"
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
rm -f "$STAMP"
if ! "$VENV/bin/python" -m pip install --quiet -r "$REQ"; then
  echo "error: pip install -r $REQ into $VENV failed (see output above)" >&2
  exit 1
fi
"$VENV/bin/python" -c 'import numpy, gguf, torch, transformers; print("numpy", numpy.__version__, "torch", torch.__version__, "transformers", transformers.__version__)'
echo "$want" > "$STAMP"
echo "ok: $VENV ready"
