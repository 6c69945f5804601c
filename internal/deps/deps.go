// Package deps pins modules that packages under construction import, so go.sum keeps them.
// It is removed once every import is real.
package deps

import (
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/spf13/cobra"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "k8s.io/apiserver/pkg/admission"
	_ "k8s.io/apiserver/pkg/authorization/authorizer"
	_ "k8s.io/apiserver/pkg/registry/generic/registry"
	_ "k8s.io/apiserver/pkg/server"
	_ "k8s.io/apiserver/pkg/server/options"
	_ "k8s.io/client-go/informers"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/listers/rbac/v1"
	_ "k8s.io/component-helpers/auth/rbac/validation"
	_ "k8s.io/klog/v2"
	_ "k8s.io/kube-openapi/pkg/common"
	_ "k8s.io/utils/clock"
)
