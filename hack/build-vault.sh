#!/usr/bin/env bash
# Builds a HashiCorp Vault v1.21.0 server from the Go module proxy through the module in
# hack/vault (why a wrapper module: hack/vault/main.go), with Vault's own `minimal` build
# tag: its official main and CLI (`vault server -dev`), the core secrets engines and auth
# methods (pki, approle, kv, token…), without the cloud and database plugins the tests do
# not use. Output: $KCSR_VAULT_DIR (default .cache/vault/v1.21.0-minimal in the
# repository)/bin/vault, for test/vault; hack/test.sh runs it in the background while the
# other tests run. Measured on this kind of machine: ~11 min of CPU (a full build: ~14),
# a 190 MB binary; later runs reuse the binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"

version=v1.21.0
out="${KCSR_VAULT_DIR:-$PWD/.cache/vault/$version-minimal}"
if [ ! -x "$out/bin/vault" ] || [ hack/vault/go.sum -nt "$out/bin/vault" ]; then
  echo "hack/build-vault.sh: building Vault $version into $out/bin (long: ~11 minutes of CPU)" >&2
  mkdir -p "$out/bin"
  (cd hack/vault && go build -tags minimal -trimpath -ldflags "-s -w" -o "$out/bin/vault.tmp" .)
  mv "$out/bin/vault.tmp" "$out/bin/vault"
fi
echo "$out/bin"
