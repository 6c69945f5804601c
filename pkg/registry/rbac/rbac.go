// Package rbac is the REST storage of rbac.authorization.k8s.io/v1 ClusterRoles and
// ClusterRoleBindings (NewStorage): the defaulting Kubernetes applies to them, their
// validation, kubectl's table columns, and the wrapper that refuses privilege escalation
// on every write, as Kubernetes' "policybased" storages do.
package rbac

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"kcsr.dev/kcsr/pkg/registry"
)

// DefaultSubjects fills in each subject's apiGroup as rbac/v1 defaulting does: the RBAC
// group for users and groups, the core group for service accounts.
func DefaultSubjects(subjects []rbacv1.Subject) {
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup != "" {
			continue
		}
		switch s.Kind {
		case rbacv1.UserKind, rbacv1.GroupKind:
			s.APIGroup = rbacv1.GroupName
		}
	}
}

// DefaultRoleRef fills in the role reference's apiGroup when omitted.
func DefaultRoleRef(ref *rbacv1.RoleRef) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
}

// EscalationCheck decides whether the caller may write obj (old is nil on create).
type EscalationCheck func(ctx context.Context, obj, old runtime.Object) error

// Strategy is the strategy of the RBAC resource T: Kubernetes' answers for RBAC objects
// (cluster-scoped here, created by a PUT, updated without a resourceVersion), T's
// validation, and T's defaulting on create and update.
type Strategy[T runtime.Object] struct {
	registry.Strategy
	validate       func(T) field.ErrorList
	validateUpdate func(obj, old T) field.ErrorList
	defaults       func(T)
}

// NewStrategy returns the strategy of T over scheme; defaults may be nil.
func NewStrategy[T runtime.Object](scheme runtime.ObjectTyper, validate func(T) field.ErrorList, validateUpdate func(obj, old T) field.ErrorList, defaults func(T)) Strategy[T] {
	base := registry.NewStrategy(scheme)
	base.CreateOnUpdate, base.UnconditionalUpdate = true, true
	return Strategy[T]{Strategy: base, validate: validate, validateUpdate: validateUpdate, defaults: defaults}
}

func (s Strategy[T]) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return s.validate(obj.(T))
}

func (s Strategy[T]) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return s.validateUpdate(obj.(T), old.(T))
}

func (s Strategy[T]) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.defaults != nil {
		s.defaults(obj.(T))
	}
}

func (s Strategy[T]) PrepareForUpdate(ctx context.Context, obj, _ runtime.Object) {
	s.PrepareForCreate(ctx, obj)
}

// NewGuardedStore returns the store of spec whose creates and updates first pass check,
// which gets the new object and the stored one (nil on create) as T.
func NewGuardedStore[T runtime.Object](optsGetter generic.RESTOptionsGetter, spec registry.StoreSpec, check func(ctx context.Context, obj, old T) error) (*GuardedStore, error) {
	store, err := registry.NewStore(optsGetter, spec)
	if err != nil {
		return nil, err
	}
	return &GuardedStore{Store: store, Check: func(ctx context.Context, obj, old runtime.Object) error {
		var stored T
		if old != nil {
			stored = old.(T)
		}
		return check(ctx, obj.(T), stored)
	}}, nil
}

// GuardedStore is a generic store whose creates and updates first pass an escalation check,
// as Kubernetes' "policybased" RBAC storages do.
type GuardedStore struct {
	*genericregistry.Store
	Check EscalationCheck
}

// Create checks the new object, then creates it.
func (s *GuardedStore) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	guarded := func(ctx context.Context, obj runtime.Object) error {
		if err := s.Check(ctx, obj, nil); err != nil {
			return err
		}
		if createValidation != nil {
			return createValidation(ctx, obj)
		}
		return nil
	}
	return s.Store.Create(ctx, obj, guarded, options)
}

// Update checks the updated object against the stored one, then writes it.
func (s *GuardedStore) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	guardedCreate := func(ctx context.Context, obj runtime.Object) error {
		if err := s.Check(ctx, obj, nil); err != nil {
			return err
		}
		if createValidation != nil {
			return createValidation(ctx, obj)
		}
		return nil
	}
	guardedUpdate := func(ctx context.Context, obj, old runtime.Object) error {
		if err := s.Check(ctx, obj, old); err != nil {
			return err
		}
		if updateValidation != nil {
			return updateValidation(ctx, obj, old)
		}
		return nil
	}
	return s.Store.Update(ctx, name, objInfo, guardedCreate, guardedUpdate, forceAllowCreate, options)
}
