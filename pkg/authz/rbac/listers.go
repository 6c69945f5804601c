package rbac

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbacv1listers "k8s.io/client-go/listers/rbac/v1"
)

// NewListerGetters adapts client-go listers (informer caches) to the interfaces New takes.
func NewListerGetters(crLister rbacv1listers.ClusterRoleLister, crbLister rbacv1listers.ClusterRoleBindingLister) (ClusterRoleGetter, ClusterRoleBindingLister) {
	return clusterRoleGetter{crLister}, clusterRoleBindingLister{crbLister}
}

type clusterRoleGetter struct {
	lister rbacv1listers.ClusterRoleLister
}

func (g clusterRoleGetter) GetClusterRole(_ context.Context, name string) (*rbacv1.ClusterRole, error) {
	return g.lister.Get(name)
}

type clusterRoleBindingLister struct {
	lister rbacv1listers.ClusterRoleBindingLister
}

func (l clusterRoleBindingLister) ListClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return l.lister.List(labels.Everything())
}
