package rbac

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
	"kcsr.dev/kcsr/pkg/registry/table"
)

// NewStorage returns the storages of ClusterRoles and ClusterRoleBindings; every write
// passes checker's escalation rules.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, checker *authzrbac.EscalationChecker) (roles, bindings *GuardedStore, err error) {
	roles, err = NewGuardedStore(optsGetter, registry.StoreSpec{
		Resource: rbacv1.Resource("clusterroles"), Singular: "clusterrole",
		New:      func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:  func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Strategy: NewStrategy(scheme, rbacvalidation.ValidateClusterRole, rbacvalidation.ValidateClusterRoleUpdate, nil),
		Table:    roleTable(),
	}, checker.CheckClusterRole)
	if err != nil {
		return nil, nil, err
	}
	defaultBinding := func(b *rbacv1.ClusterRoleBinding) {
		DefaultRoleRef(&b.RoleRef)
		DefaultSubjects(b.Subjects)
	}
	bindings, err = NewGuardedStore(optsGetter, registry.StoreSpec{
		Resource: rbacv1.Resource("clusterrolebindings"), Singular: "clusterrolebinding",
		New:      func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList:  func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Strategy: NewStrategy(scheme, rbacvalidation.ValidateClusterRoleBinding, rbacvalidation.ValidateClusterRoleBindingUpdate, defaultBinding),
		Table:    bindingTable(),
	}, checker.CheckClusterRoleBinding)
	if err != nil {
		return nil, nil, err
	}
	return roles, bindings, nil
}

// roleTable has kubectl's columns for ClusterRoles: NAME, CREATED AT.
func roleTable() table.Convertor {
	return table.Convertor{
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
	}
}

// bindingTable has kubectl's columns for ClusterRoleBindings: NAME, ROLE, AGE, and with
// -o wide USERS, GROUPS, SERVICEACCOUNTS.
func bindingTable() table.Convertor {
	return table.Convertor{
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
	}
}
