#!/usr/bin/env bash
# Builds a HashiCorp Vault v1.21.0 server from the Go module proxy through the module in
# hack/vault (why a wrapper module: hack/vault/main.go), with Vault's own `minimal` build
# tag: its official main and CLI (`vault server -dev`), the core secrets engines and auth
# methods (pki, approle, kv, token…), without the cloud and database plugins the tests do
# not use. Output: $KCSR_VAULT_DIR (default .cache/vault/v1.21.0-minimal in the
# repository)/bin/vault and plugins/vault-plugin-auth-kubernetes, for test/vault;
# hack/test.sh runs it in the background while the other tests run. Measured on this kind
# of machine: ~11 min of CPU for Vault (a full build: ~14), a 190 MB binary, and ~2 min
# for the plugin; later runs reuse both.
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
# Vault's Kubernetes auth method, which the minimal build leaves out, as the external
# plugin Vault loads from a plugin directory (the same code the full build links in).
plugin="$out/plugins/vault-plugin-auth-kubernetes"
if [ ! -x "$plugin" ] || [ hack/vault/go.sum -nt "$plugin" ]; then
  mkdir -p "$out/plugins"
  (cd hack/vault && go build -trimpath -ldflags "-s -w" -o "$plugin.tmp" github.com/hashicorp/vault-plugin-auth-kubernetes/cmd/vault-plugin-auth-kubernetes)
  mv "$plugin.tmp" "$plugin"
fi
echo "$out/bin"
