#!/usr/bin/env bash
# Builds kcsr and runs the server on its embedded default (./kcsr-data, https://127.0.0.1:6443).
# Extra arguments go to `kcsr server`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
hack/install-deps.sh >/dev/null
export PATH="$PATH:/usr/local/go/bin"
go build -o bin/kcsr ./cmd/kcsr
exec bin/kcsr server "$@"
