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
echo "== scripts/chaos-serve.py"
# A copy of SmolLM2 whose chat template would compare 10^11 list items: it must cost its own requests an error, nothing else.
printf '%s' '{% set big = range(100000) | list %}{% for i in range(1000) %}{% for j in range(1000) %}{% if -1 in big %}{% endif %}{% endfor %}{% endfor %}' > .build/chaos-hostile.jinja
python3 scripts/gguf-set-template.py "${FEATHER_MODELS:-.models}/smollm2-135m.gguf" .build/chaos-hostile-template.gguf .build/chaos-hostile.jinja
.venv-test/bin/python scripts/chaos-serve.py --feather "$FEATHER_BIN" --hostile-model .build/chaos-hostile-template.gguf || status=1
rm -f .build/chaos-hostile-template.gguf
exit $status
