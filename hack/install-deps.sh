#!/usr/bin/env bash
# Installs what kcsr's build and test suite need on a fresh machine of this kind (Debian with
# Go): openssl and kubectl are used by the end-to-end tests as a user would use them, SoftHSM2
# and a C compiler by the PKCS#11 CA backend and its tests. Safe to run again: it installs
# only what is missing.
set -euo pipefail

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v git >/dev/null || need_apt+=(git)
command -v make >/dev/null || need_apt+=(make)
# SoftHSM2: the PKCS#11 HSM the CA-backend tests create tokens in (softhsm2-util and the
# module, /usr/lib/softhsm/libsofthsm2.so).
{ command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ]; } || need_apt+=(softhsm2)
# A C toolchain: the PKCS#11 backend is cgo (crypto11), and without a C compiler the go
# command silently builds without cgo, leaving the HSM out of the binary and its tests.
command -v gcc >/dev/null || need_apt+=(gcc)
# Chromium: the browser the kcsr console tests drive headless (chromedp); Debian's package.
command -v chromium >/dev/null || need_apt+=(chromium)
[ -e /usr/include/stdlib.h ] || need_apt+=(libc6-dev)

if ((${#need_apt[@]})); then
  echo "hack/install-deps.sh: installing ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v kubectl >/dev/null; then
  # kubectl ships with the machine image (and the Google Cloud SDK); Debian's package is the
  # fallback where it is missing.
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq kubernetes-client >/dev/null || {
    echo "hack/install-deps.sh: kubectl is missing and could not be installed; set KUBECTL=/path/to/kubectl" >&2
    exit 1
  }
fi

# The e2e suite also drives older kubectl releases (1.27 speaks OpenAPI v2 only). They ship
# beside kubectl in the Google Cloud SDK on these machines; KCSR_E2E_KUBECTL_DIR may point
# elsewhere.
kubectl_dir="${KCSR_E2E_KUBECTL_DIR:-/usr/lib/google-cloud-sdk/bin}"
for v in 1.27 1.33; do
  if [ ! -x "$kubectl_dir/kubectl.$v" ]; then
    echo "hack/install-deps.sh: $kubectl_dir/kubectl.$v is missing; set KCSR_E2E_KUBECTL_DIR to a directory holding kubectl.1.27 and kubectl.1.33" >&2
    exit 1
  fi
done

if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "hack/install-deps.sh: add /usr/local/go/bin to PATH" >&2
  fi
  echo "hack/install-deps.sh: Go is required (go1.26 or newer)" >&2
  exit 1
fi

go mod download
