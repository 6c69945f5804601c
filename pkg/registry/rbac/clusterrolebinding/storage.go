// Package clusterrolebinding is the REST storage of rbac.authorization.k8s.io/v1
// ClusterRoleBinding.
package clusterrolebinding

import (
	"fmt"
	"strings"
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

// defaults fills in the defaults of a binding's roleRef and subjects, as Kubernetes does.
func defaults(b *rbacv1.ClusterRoleBinding) {
	registryrbac.DefaultRoleRef(&b.RoleRef)
	registryrbac.DefaultSubjects(b.Subjects)
}

// REST is the ClusterRoleBinding storage.
type REST struct{ *registryrbac.GuardedStore }

// NewREST returns the storage; every write passes checker's escalation rules.
func NewREST(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, checker *authzrbac.EscalationChecker) (*REST, error) {
	s := registryrbac.NewStrategy(scheme, rbacvalidation.ValidateClusterRoleBinding, rbacvalidation.ValidateClusterRoleBindingUpdate, defaults)
	store, err := registryrbac.NewGuardedStore(optsGetter, registry.StoreSpec{
		Resource: rbacv1.Resource("clusterrolebindings"),
		Singular: "clusterrolebinding",
		New:      func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList:  func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Strategy: s,
		Table: table.Convertor{
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
	}, checker.CheckClusterRoleBinding)
	if err != nil {
		return nil, err
	}
	return &REST{store}, nil
}
