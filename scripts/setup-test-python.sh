#!/usr/bin/env bash
# Creates .venv-test (ignored) with the pinned official `openai` client the server tests use, and
# `jsonschema` (the reference validator the structured-output tests check replies with).
# Re-running is cheap: an environment that already has the pinned version is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAI_VERSION=3.57.0
JSONSCHEMA_VERSION=4.25.1
VENV=.venv-test

if [[ -x $VENV/bin/python ]] && [[ $($VENV/bin/python -c 'import openai, jsonschema, importlib.metadata as m; print(openai.__version__, m.version("jsonschema"))' 2>/dev/null) == "$OPENAI_VERSION $JSONSCHEMA_VERSION" ]]; then
  echo "ok: $VENV has openai $OPENAI_VERSION and jsonschema $JSONSCHEMA_VERSION"
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION" "jsonschema==$JSONSCHEMA_VERSION"
echo "ok: $VENV has openai $("$VENV/bin/python" -c 'import openai; print(openai.__version__)')"
