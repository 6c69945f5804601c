#!/usr/bin/env bash
# Installs what kcsr's build and test suite need on a fresh machine of this kind (Debian with
# Go): openssl and kubectl are used by the end-to-end tests as a user would use them. Safe to
# run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v git >/dev/null || need_apt+=(git)
command -v make >/dev/null || need_apt+=(make)

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

if ! command -v go >/dev/null; then
  if [ -x /usr/local/go/bin/go ]; then
    echo "hack/install-deps.sh: add /usr/local/go/bin to PATH" >&2
  fi
  echo "hack/install-deps.sh: Go is required (go1.26 or newer)" >&2
  exit 1
fi

go mod download
