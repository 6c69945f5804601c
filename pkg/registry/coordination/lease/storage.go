// Package lease is the REST storage of coordination.k8s.io/v1 Lease, served so that kcsr's
// controllers (and anything else using client-go's leader election) can elect a leader
// among replicas through kcsr itself, as they would through kube-apiserver. It mirrors
// kube-apiserver's pkg/registry/coordination/lease: the same strategy (create on PUT,
// updates need a resourceVersion, coordinated leader election fields dropped while the
// CoordinatedLeaderElection feature gate is off), the same validation and the same
// `kubectl get leases` columns (NAME, HOLDER, AGE).
package lease

import (
	"context"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/names"
	utilfeature "k8s.io/apiserver/pkg/util/feature"

	coordinationvalidation "kcsr.dev/kcsr/pkg/apis/coordination/validation"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/table"
)

type strategy struct{ registry.Strategy }

// coordinatedLeaderElection reports whether strategy and preferredHolder are kept. kcsr
// has no --feature-gates flag, so this is the gate's default: off, as kube-apiserver's.
func coordinatedLeaderElection() bool {
	return utilfeature.DefaultFeatureGate.Enabled(features.CoordinatedLeaderElection)
}

// PrepareForCreate drops the coordinated leader election fields unless the feature is on.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	lease := obj.(*coordinationv1.Lease)
	if !coordinatedLeaderElection() {
		lease.Spec.Strategy = nil
		lease.Spec.PreferredHolder = nil
	}
}

// PrepareForUpdate drops the coordinated leader election fields unless the feature is on
// or the stored object already has them.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	lease, oldLease := obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease)
	if coordinatedLeaderElection() {
		return
	}
	if oldLease.Spec.Strategy == nil {
		lease.Spec.Strategy = nil
	}
	if oldLease.Spec.PreferredHolder == nil {
		lease.Spec.PreferredHolder = nil
	}
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return coordinationvalidation.ValidateLease(obj.(*coordinationv1.Lease))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return coordinationvalidation.ValidateLeaseUpdate(obj.(*coordinationv1.Lease), old.(*coordinationv1.Lease))
}

// tableConvertor prints the columns kube-apiserver prints for leases: NAME, HOLDER, AGE.
var tableConvertor = table.Convertor{
	Columns: []metav1.TableColumnDefinition{
		table.NameColumn,
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		table.AgeColumn,
	},
	Cells: func(obj runtime.Object) ([]any, error) {
		l, ok := obj.(*coordinationv1.Lease)
		if !ok {
			return nil, table.ErrNotTable(obj)
		}
		var holder string
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []any{l.Name, holder, table.Age(l.CreationTimestamp, time.Now())}, nil
	},
}

// REST is the Lease storage.
type REST struct{ *genericregistry.Store }

// NewStorage returns the Lease storage.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	s := strategy{registry.Strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, Namespaced: true, CreateOnUpdate: true}}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: coordinationv1.Resource("leases"),
		Singular: "lease",
		New:      func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:  func() runtime.Object { return &coordinationv1.LeaseList{} },
		Strategy: s,
		Table:    tableConvertor,
	})
	if err != nil {
		return nil, err
	}
	return &REST{store}, nil
}
