#!/usr/bin/env bash
# Installs headless Chromium (Debian package `chromium`) for the HTML report test, unless a
# Chromium is already on PATH (or named by $CHROMIUM). Needs root or passwordless sudo for apt-get;
# without either it says so and exits 0, and the test that needs Chromium reports it as missing.
set -euo pipefail

for c in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
  if [[ -n $c ]] && command -v "$c" >/dev/null 2>&1; then
    echo "ok: $(command -v "$c") ($("$c" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
  fi
done

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    echo "warning: chromium is not installed and apt-get needs root; the HTML report test will fail" >&2
    exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: no apt-get here; install Chromium and set CHROMIUM=/path/to/it for the HTML report test" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "installed: $(command -v chromium) ($(chromium --version 2>/dev/null))"
