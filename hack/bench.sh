#!/usr/bin/env bash
# Runs kcsr's issuance benchmark (docs/benchmarks.md): kcsr server against a real etcd +
# kube-apiserver + kube-controller-manager v1.37.2, on this machine, in one run. Builds
# what it needs first: kcsr and the benchmark into .cache/bench, Kubernetes with
# hack/build-kube.sh (skipped when --systems does not include kube, or with --scale).
# Arguments go to the benchmark (test/bench):
#
#   hack/bench.sh                          # -n 2000 -c 16, kcsr and kube
#   hack/bench.sh -n 10000 -c 32 --cpuprofile kcsr.cpu.prof --allocprofile kcsr.alloc.prof
#   hack/bench.sh --scale 100000           # kcsr with 100k CSRs and 100k inventory records
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$PATH:/usr/local/go/bin"

need_kube=yes
prev=
for arg in "$@"; do
  case "$prev:$arg" in
    --systems:*) [[ $arg == *kube* ]] || need_kube=no ;;
  esac
  case "$arg" in
    --systems=*) [[ $arg == *kube* ]] || need_kube=no ;;
    --scale|--scale=*) need_kube=no ;;
  esac
  prev=$arg
done

kube_bin="${KCSR_KUBE_DIR:-$PWD/.cache/kube/v1.37.2}/bin"
if [ "$need_kube" = yes ]; then
  kube_bin=$(hack/build-kube.sh | tail -n1)
fi
mkdir -p .cache/bench
go build -o .cache/bench/kcsr ./cmd/kcsr
go build -o .cache/bench/bench ./test/bench
exec .cache/bench/bench --kcsr-binary .cache/bench/kcsr --kube-bin-dir "$kube_bin" "$@"
