#!/usr/bin/env bash
# Fails when pkg/generated/openapi is stale: regenerates into a temporary directory and
# compares. Fix with hack/update-openapi.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
hack/update-openapi.sh "$tmp" >/dev/null
if ! diff -q "$tmp/zz_generated.openapi.go" pkg/generated/openapi/zz_generated.openapi.go >/dev/null; then
  echo "pkg/generated/openapi/zz_generated.openapi.go is stale; run hack/update-openapi.sh" >&2
  diff -u pkg/generated/openapi/zz_generated.openapi.go "$tmp/zz_generated.openapi.go" | head -40 >&2
  exit 1
fi
echo "OpenAPI definitions are up to date"
