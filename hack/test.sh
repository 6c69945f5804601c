#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end tests (the e2e tests build
# ./cmd/kcsr and drive it with the real kubectl and openssl), plus the generated-code check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh
export PATH="$PATH:/usr/local/go/bin"

hack/verify-codegen.sh
go vet ./...
# -p 2: the machine has two cores; e2e packages start real servers.
go test -count=1 -p 2 -timeout 30m "$@" ./...
