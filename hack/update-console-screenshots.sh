#!/usr/bin/env bash
# Retakes the screenshots of docs/console.md: runs the console's browser test, which
# saves each view as it drives them (KCSR_E2E_SCREENSHOTS names where).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"
out=docs/images/console
mkdir -p "$out"
KCSR_E2E_SCREENSHOTS="$PWD/$out" go test -count=1 ./test/e2e -run '^TestConsole$'
rm -f "$out"/failed-*.png
ls -l "$out"
