// Package clusterrole is the REST storage of rbac.authorization.k8s.io/v1 ClusterRole.
package clusterrole

import (
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	rbacvalidation "kcsr.dev/kcsr/pkg/apis/rbac/validation"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	"kcsr.dev/kcsr/pkg/registry"
	registryrbac "kcsr.dev/kcsr/pkg/registry/rbac"
	"kcsr.dev/kcsr/pkg/registry/table"
)

// REST is the ClusterRole storage.
type REST struct{ *registryrbac.GuardedStore }

// NewREST returns the storage; every write passes checker's escalation rules.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, checker *authzrbac.EscalationChecker) (*REST, error) {
	s := registryrbac.NewStrategy(scheme, rbacvalidation.ValidateClusterRole, rbacvalidation.ValidateClusterRoleUpdate, nil)
	store, err := registryrbac.NewGuardedStore(optsGetter, registry.StoreSpec{
		Resource: rbacv1.Resource("clusterroles"),
		Singular: "clusterrole",
		New:      func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:  func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Strategy: s,
		Table: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				table.NameColumn,
				{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				r, ok := obj.(*rbacv1.ClusterRole)
				if !ok {
					return nil, fmt.Errorf("expected a ClusterRole, got %T", obj)
				}
				return []any{r.Name, r.CreationTimestamp.UTC().Format(time.RFC3339)}, nil
			},
		},
	}, checker.CheckClusterRole)
	if err != nil {
		return nil, err
	}
	return &REST{store}, nil
}
