#!/usr/bin/env bash
# Creates .venv-lmeval/ with lm-evaluation-harness 0.4.13 and pinned dependencies
# (scripts/oracle/requirements-lmeval.txt), for scripts/oracle/lmeval_fixtures.py. No torch, no
# compiling: a few minutes. Idempotent: skipped when built from the same requirements file.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=.venv-lmeval
REQ=scripts/oracle/requirements-lmeval.txt
STAMP=$VENV/.requirements.sha256
PY=${PYTHON:-python3}

want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]] && "$VENV/bin/python" -c 'import lm_eval' 2>/dev/null; then
  echo "ok: $VENV up to date"
  exit 0
fi
[[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
rm -f "$STAMP"
if ! "$VENV/bin/python" -m pip install --quiet -r "$REQ"; then
  echo "error: pip install -r $REQ into $VENV failed (see output above)" >&2
  exit 1
fi
"$VENV/bin/lm_eval" --help >/dev/null
echo "$want" > "$STAMP"
echo "ok: $VENV ready"
