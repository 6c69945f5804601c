#!/usr/bin/env bash
# Regenerates pkg/generated/openapi/zz_generated.openapi.go, the OpenAPI definitions of every
# type kcsr serves. kube-apiserver ships its own generated definitions inside k8s.io/kubernetes;
# no module exports them, so we run the same generator (openapi-gen, pinned in go.mod as a
# tool) over the API packages we serve.
#
# Usage: hack/update-openapi.sh [OUTPUT_DIR]   (default: pkg/generated/openapi)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:-pkg/generated/openapi}"
mkdir -p "$out"

# The API packages kcsr serves, plus the shared metadata types they refer to.
packages=(
  k8s.io/apimachinery/pkg/apis/meta/v1
  k8s.io/apimachinery/pkg/runtime
  k8s.io/apimachinery/pkg/version
  k8s.io/apimachinery/pkg/util/intstr
  k8s.io/apimachinery/pkg/api/resource
  k8s.io/api/certificates/v1
  k8s.io/api/rbac/v1
  k8s.io/api/authorization/v1
  k8s.io/api/authentication/v1
  k8s.io/api/coordination/v1
  k8s.io/api/core/v1
  k8s.io/api/events/v1
)
if [ -d pkg/apis/kcsr/v1alpha1 ]; then
  packages+=(kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1)
fi

go tool openapi-gen \
  --go-header-file hack/boilerplate.go.txt \
  --output-dir "$out" \
  --output-pkg kcsr.dev/kcsr/pkg/generated/openapi \
  --output-file zz_generated.openapi.go \
  --report-filename /dev/null \
  "${packages[@]}"
