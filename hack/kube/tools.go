//go:build tools

// Package tools pins the real Kubernetes control plane (and the etcd it runs on) that kcsr's
// fidelity tests, real-cluster tests and benchmark compare against. It is a module of its
// own so that kcsr's go.mod never depends on k8s.io/kubernetes; hack/build-kube.sh builds
// the binaries from it.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
