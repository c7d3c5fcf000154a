#!/usr/bin/env bash
# `swift test` as `make test` runs it: FEATHER_REQUIRE_FIXTURES=1 turns every "skip when the model,
# data or fixture is missing" into a failure of that test, so nothing is skipped silently; the
# only skips left are for hardware (an ISA this CPU lacks), and they are counted and named.
#   SWIFT: the swift driver (default swift). Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
mkdir -p .build
LOG=.build/swift-test.log
status=0
FEATHER_REQUIRE_FIXTURES=1 "$SWIFT" test "$@" 2>&1 | tee "$LOG" || status=$?
# Swift Testing marks a skipped test with "◇ Test NAME skipped"; XCTest with "Test Case ... skipped".
skipped=$(grep -cE '^.{0,4}Test .* skipped|Test Case .* skipped' "$LOG" || true)
echo "swift test: $skipped skipped"
grep -E '^.{0,4}Test .* skipped|Test Case .* skipped' "$LOG" | sed 's/^/  /' || true
exit $status
