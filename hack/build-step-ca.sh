#!/usr/bin/env bash
# Builds step-ca v0.30.2 (github.com/smallstep/certificates, from the Go module proxy), the
# upstream CA the upstream-signer tests sign through. Without cgo: its PIV support needs
# libpcsclite, which kcsr does not use. Output: $KCSR_STEPCA_DIR (default
# .cache/step-ca/v0.30.2 in the repository)/bin/step-ca. A cold build takes ~3 minutes; later
# runs reuse the binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"

version=v0.30.2
out="${KCSR_STEPCA_DIR:-$PWD/.cache/step-ca/$version}"
if [ ! -x "$out/bin/step-ca" ]; then
  echo "hack/build-step-ca.sh: building step-ca $version into $out/bin" >&2
  mkdir -p "$out/bin.tmp"
  CGO_ENABLED=0 GOBIN="$out/bin.tmp" GOFLAGS=-mod=mod go install -trimpath "github.com/smallstep/certificates/cmd/step-ca@$version"
  rm -rf "$out/bin"
  mv "$out/bin.tmp" "$out/bin"
fi
echo "$out/bin"
