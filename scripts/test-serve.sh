#!/usr/bin/env bash
# Runs the `feather serve` tests (Tests/serve/*.py) with real clients: the official openai
# package and curl. Each test file starts its own server on a free loopback port.
#   FEATHER_BIN: the feather binary to test (default .build/debug/feather, built by `make test`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-test-python.sh
command -v curl >/dev/null || { echo "error: the serve tests need curl" >&2; exit 1; }
export FEATHER_BIN=${FEATHER_BIN:-.build/debug/feather}
[[ -x $FEATHER_BIN ]] || { echo "error: $FEATHER_BIN is missing: run swift build first" >&2; exit 1; }
status=0
for t in Tests/serve/test_*.py; do
  echo "== $t"
  .venv-test/bin/python "$t" || status=1
done
exit $status
