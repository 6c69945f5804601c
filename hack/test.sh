#!/usr/bin/env bash
# Runs the whole test suite: unit, integration and end-to-end tests (the e2e tests build
# ./cmd/kcsr and drive it with the real kubectl and openssl), the side-by-side tests against
# a real kube-apiserver + kube-controller-manager, the upstream-CA tests against a real
# step-ca and a real Vault, plus the generated-code check.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/install-deps.sh
export PATH="$PATH:/usr/local/go/bin"

# Vault (test/vault) takes ~11 minutes of CPU to build the first time: it is built in the
# background, at low priority, while everything else runs, and test/vault runs last.
vault_log="$(mktemp)"
nice -n 10 hack/build-vault.sh >"$vault_log" 2>&1 &
vault_build=$!

hack/verify-codegen.sh
# The real Kubernetes control plane the fidelity and real-cluster tests compare with and run
# beside (test/fidelity, test/realcluster); cached after the first build.
hack/build-kube.sh >/dev/null
# The upstream CA the upstream-signer tests sign through (test/e2e/upstream_test.go).
hack/build-step-ca.sh >/dev/null
go vet ./...
# -p 2: the machine has two cores; e2e packages start real servers.
go test -count=1 -p 2 -timeout 30m "$@" $(go list ./... | grep -v '/test/vault$')
if ! wait "$vault_build"; then
  cat "$vault_log" >&2
  echo "hack/test.sh: hack/build-vault.sh failed" >&2
  exit 1
fi
go test -count=1 -timeout 10m "$@" ./test/vault
