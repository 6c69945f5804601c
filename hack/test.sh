#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end tests (the e2e tests build
# ./cmd/kcsr and drive it with the real kubectl and openssl), the side-by-side tests against
# a real kube-apiserver + kube-controller-manager, plus the generated-code check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh
export PATH="$PATH:/usr/local/go/bin"

hack/verify-codegen.sh
# The real Kubernetes control plane the fidelity and real-cluster tests compare with and run
# beside (test/fidelity, test/realcluster); cached after the first build.
hack/build-kube.sh >/dev/null
# The upstream CA the upstream-signer tests sign through (test/e2e/upstream_test.go).
hack/build-step-ca.sh >/dev/null
go vet ./...
# -p 2: the machine has two cores; e2e packages start real servers.
go test -count=1 -p 2 -timeout 30m "$@" ./...
