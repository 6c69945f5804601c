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
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/names"

	rbacvalidation "kcsr.dev/kcsr/pkg/apis/rbac/validation"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	registryrbac "kcsr.dev/kcsr/pkg/registry/rbac"
	"kcsr.dev/kcsr/pkg/registry/table"
)

type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (strategy) NamespaceScoped() bool                                            { return false }
func (strategy) AllowCreateOnUpdate(context.Context) bool                         { return true }
func (strategy) AllowUnconditionalUpdate(context.Context) bool                    { return true }
func (strategy) Canonicalize(runtime.Object)                                      {}
func (strategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string        { return nil }
func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

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
	s := strategy{scheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewListFunc:               func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		DefaultQualifiedResource:  rbacv1.Resource("clusterroles"),
		SingularQualifiedResource: rbacv1.Resource("clusterrole"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		TableConvertor: table.Convertor{
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
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, fmt.Errorf("clusterroles storage: %w", err)
	}
	check := func(ctx context.Context, obj, old runtime.Object) error {
		var oldRole *rbacv1.ClusterRole
		if old != nil {
			oldRole = old.(*rbacv1.ClusterRole)
		}
		return checker.CheckClusterRole(ctx, obj.(*rbacv1.ClusterRole), oldRole)
	}
	return &REST{&registryrbac.GuardedStore{Store: store, Check: check}}, nil
}
