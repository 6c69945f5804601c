// Package registry holds what kcsr's REST storages share: the strategy answers most
// resources give as kube-apiserver does (Strategy, to embed), and the building of a
// resource's completed generic store (NewStore). The packages below it add each
// resource's own validation, preparation, field selectors and table.
package registry

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Strategy answers the questions of rest.RESTCreateStrategy and rest.RESTUpdateStrategy
// that a resource answers with a constant, and does nothing where it changes nothing
// (Canonicalize, PrepareForCreate, PrepareForUpdate, warnings). A resource's strategy
// embeds it, adds Validate and ValidateUpdate, and overrides what it does differently.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	// Namespaced, CreateOnUpdate and UnconditionalUpdate are the answers of
	// NamespaceScoped, AllowCreateOnUpdate and AllowUnconditionalUpdate: kube-apiserver's
	// for its resources.
	Namespaced, CreateOnUpdate, UnconditionalUpdate bool
}

// NewStrategy returns a Strategy over scheme's types, generating names with
// names.SimpleNameGenerator (metadata.generateName).
func NewStrategy(scheme runtime.ObjectTyper) Strategy {
	return Strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator}
}

func (s Strategy) NamespaceScoped() bool                                          { return s.Namespaced }
func (s Strategy) AllowCreateOnUpdate(context.Context) bool                       { return s.CreateOnUpdate }
func (s Strategy) AllowUnconditionalUpdate(context.Context) bool                  { return s.UnconditionalUpdate }
func (Strategy) Canonicalize(runtime.Object)                                      {}
func (Strategy) PrepareForCreate(context.Context, runtime.Object)                 {}
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string        { return nil }
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// ResetFields is the answer of a strategy's GetResetFields: the fields of apiVersion that
// a write through it never changes, each a path of field names, so that server-side
// apply does not take ownership of them.
func ResetFields(apiVersion string, paths ...[]any) map[fieldpath.APIVersion]*fieldpath.Set {
	set := fieldpath.NewSet()
	for _, p := range paths {
		set.Insert(fieldpath.MakePathOrDie(p...))
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{fieldpath.APIVersion(apiVersion): set}
}

// ResourceStrategy is what a resource's store needs of its strategy.
type ResourceStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
	rest.RESTDeleteStrategy
}

// StoreSpec says how to build one resource's store.
type StoreSpec struct {
	// Resource is the resource's plural name in its group; Singular its singular name.
	Resource schema.GroupResource
	Singular string
	// New and NewList return an empty object and list of the resource.
	New, NewList func() runtime.Object
	// Strategy creates, updates and deletes; it also resets fields when it implements
	// rest.ResetFieldsStrategy.
	Strategy ResourceStrategy
	// Table renders the resource for kubectl get.
	Table rest.TableConvertor
	// AttrFunc gives the labels and fields selectors match; nil for metadata only.
	AttrFunc storage.AttrFunc
	// Customize, when set, changes the store before it is completed (a TTL, hooks).
	Customize func(*genericregistry.Store)
}

// NewStore returns the completed generic store of spec over the storage of optsGetter.
func NewStore(optsGetter generic.RESTOptionsGetter, spec StoreSpec) (*genericregistry.Store, error) {
	store := &genericregistry.Store{
		NewFunc:                   spec.New,
		NewListFunc:               spec.NewList,
		DefaultQualifiedResource:  spec.Resource,
		SingularQualifiedResource: schema.GroupResource{Group: spec.Resource.Group, Resource: spec.Singular},
		CreateStrategy:            spec.Strategy,
		UpdateStrategy:            spec.Strategy,
		DeleteStrategy:            spec.Strategy,
		TableConvertor:            spec.Table,
	}
	if r, ok := spec.Strategy.(rest.ResetFieldsStrategy); ok {
		store.ResetFieldsStrategy = r
	}
	if spec.Customize != nil {
		spec.Customize(store)
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: spec.AttrFunc}); err != nil {
		return nil, fmt.Errorf("%s storage: %w", spec.Resource.Resource, err)
	}
	return store, nil
}
