// Package clusterrole is the REST storage of rbac.authorization.k8s.io/v1 ClusterRole.
package clusterrole

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/names"

	rbacvalidation "kcsr.dev/kcsr/pkg/apis/rbac/validation"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	"kcsr.dev/kcsr/pkg/registry"
	registryrbac "kcsr.dev/kcsr/pkg/registry/rbac"
	"kcsr.dev/kcsr/pkg/registry/table"
)

type strategy struct{ registry.Strategy }

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return rbacvalidation.ValidateClusterRole(obj.(*rbacv1.ClusterRole))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return rbacvalidation.ValidateClusterRoleUpdate(obj.(*rbacv1.ClusterRole), old.(*rbacv1.ClusterRole))
}

// REST is the ClusterRole storage.
type REST struct{ *registryrbac.GuardedStore }

// NewREST returns the storage; every write passes checker's escalation rules.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, checker *authzrbac.EscalationChecker) (*REST, error) {
	s := strategy{registry.Strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, CreateOnUpdate: true, UnconditionalUpdate: true}}
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
