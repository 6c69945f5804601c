// Package clusterrolebinding is the REST storage of rbac.authorization.k8s.io/v1
// ClusterRoleBinding.
package clusterrolebinding

import (
	"context"
	"fmt"
	"strings"
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

func (strategy) NamespaceScoped() bool                         { return false }
func (strategy) AllowCreateOnUpdate(context.Context) bool      { return true }
func (strategy) AllowUnconditionalUpdate(context.Context) bool { return true }
func (strategy) Canonicalize(runtime.Object)                   {}

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	b := obj.(*rbacv1.ClusterRoleBinding)
	registryrbac.DefaultRoleRef(&b.RoleRef)
	registryrbac.DefaultSubjects(b.Subjects)
}

func (strategy) PrepareForUpdate(_ context.Context, obj, _ runtime.Object) {
	b := obj.(*rbacv1.ClusterRoleBinding)
	registryrbac.DefaultRoleRef(&b.RoleRef)
	registryrbac.DefaultSubjects(b.Subjects)
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return rbacvalidation.ValidateClusterRoleBinding(obj.(*rbacv1.ClusterRoleBinding))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return rbacvalidation.ValidateClusterRoleBindingUpdate(obj.(*rbacv1.ClusterRoleBinding), old.(*rbacv1.ClusterRoleBinding))
}

// REST is the ClusterRoleBinding storage.
type REST struct{ *registryrbac.GuardedStore }

// NewREST returns the storage; every write passes checker's escalation rules.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, checker *authzrbac.EscalationChecker) (*REST, error) {
	s := strategy{scheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewListFunc:               func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		DefaultQualifiedResource:  rbacv1.Resource("clusterrolebindings"),
		SingularQualifiedResource: rbacv1.Resource("clusterrolebinding"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		TableConvertor: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				table.NameColumn,
				{Name: "Role", Type: "string", Priority: 0},
				table.AgeColumn,
				{Name: "Users", Type: "string", Priority: 1},
				{Name: "Groups", Type: "string", Priority: 1},
				{Name: "ServiceAccounts", Type: "string", Priority: 1},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				b, ok := obj.(*rbacv1.ClusterRoleBinding)
				if !ok {
					return nil, fmt.Errorf("expected a ClusterRoleBinding, got %T", obj)
				}
				var users, groups, sas []string
				for _, s := range b.Subjects {
					switch s.Kind {
					case rbacv1.UserKind:
						users = append(users, s.Name)
					case rbacv1.GroupKind:
						groups = append(groups, s.Name)
					case rbacv1.ServiceAccountKind:
						sas = append(sas, s.Namespace+"/"+s.Name)
					}
				}
				return []any{
					b.Name,
					b.RoleRef.Kind + "/" + b.RoleRef.Name,
					table.Age(b.CreationTimestamp, time.Now()),
					strings.Join(users, ", "),
					strings.Join(groups, ", "),
					strings.Join(sas, ", "),
				}, nil
			},
		},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, fmt.Errorf("clusterrolebindings storage: %w", err)
	}
	check := func(ctx context.Context, obj, old runtime.Object) error {
		var oldBinding *rbacv1.ClusterRoleBinding
		if old != nil {
			oldBinding = old.(*rbacv1.ClusterRoleBinding)
		}
		return checker.CheckClusterRoleBinding(ctx, obj.(*rbacv1.ClusterRoleBinding), oldBinding)
	}
	return &REST{&registryrbac.GuardedStore{Store: store, Check: check}}, nil
}
