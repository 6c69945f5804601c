#!/usr/bin/env bash
# Fails when generated code (deepcopy, clientset, listers, informers, OpenAPI) is stale:
# regenerates in a copy of the tree and compares. Fix with hack/update-codegen.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a go.mod go.sum hack pkg "$tmp/"
(cd "$tmp" && hack/update-codegen.sh >/dev/null 2>&1)
status=0
for path in pkg/generated pkg/apis; do
  if ! diff -r -q "$path" "$tmp/$path" >/dev/null; then
    echo "generated code under $path is stale; run hack/update-codegen.sh" >&2
    diff -r "$path" "$tmp/$path" | head -40 >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "generated code is up to date"
exit "$status"
