#!/usr/bin/env bash
# Regenerates the code derived from kcsr's API types (pkg/apis/kcsr/...): deepcopy, the typed
# clientset, listers and informers (pkg/generated/...), then the OpenAPI definitions.
# The generators are pinned in go.mod as tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:-pkg/generated}"
header=hack/boilerplate.go.txt
apis=kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1

go tool deepcopy-gen --go-header-file "$header" --output-file zz_generated.deepcopy.go "$apis"
go tool client-gen --go-header-file "$header" --clientset-name versioned \
  --input-base "" --input "$apis" \
  --output-dir "$out/clientset" --output-pkg kcsr.dev/kcsr/pkg/generated/clientset
go tool lister-gen --go-header-file "$header" \
  --output-dir "$out/listers" --output-pkg kcsr.dev/kcsr/pkg/generated/listers "$apis"
go tool informer-gen --go-header-file "$header" \
  --versioned-clientset-package kcsr.dev/kcsr/pkg/generated/clientset/versioned \
  --listers-package kcsr.dev/kcsr/pkg/generated/listers \
  --output-dir "$out/informers" --output-pkg kcsr.dev/kcsr/pkg/generated/informers "$apis"
hack/update-openapi.sh "$out/openapi"
