// Package event is the REST storage of core/v1 Event, served so that controllers can
// record why they did what they did and `kubectl describe csr` shows it. Events expire
// after an hour, as in Kubernetes (--event-ttl). Events of cluster-scoped objects such as
// CSRs live in namespace "default", where client-go's recorder puts them.
package event

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/names"

	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/table"
)

// TTL is how long an event is kept.
const TTL = time.Hour

type strategy struct{ registry.Strategy }

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validate(obj.(*corev1.Event))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*corev1.Event), old.(*corev1.Event)
	return append(validate(n), apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))...)
}

func validate(e *corev1.Event) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&e.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if e.InvolvedObject.Kind == "" {
		errs = append(errs, field.Required(field.NewPath("involvedObject", "kind"), ""))
	}
	if e.Type != "" && e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.NotSupported(field.NewPath("type"), e.Type, []string{corev1.EventTypeNormal, corev1.EventTypeWarning}))
	}
	return errs
}

// SelectableFields are the fields `kubectl describe` and `kubectl get events
// --field-selector` use, as in Kubernetes.
func SelectableFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return generic.MergeFieldsSets(generic.ObjectMetaFieldsSet(&e.ObjectMeta, true), fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	})
}

// FieldLabels are the selectable field names, for the scheme's label conversion.
var FieldLabels = []string{"metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}

// GetAttrs returns labels and selectable fields.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	e, ok := obj.(*corev1.Event)
	if !ok {
		return nil, nil, fmt.Errorf("expected an Event, got %T", obj)
	}
	return e.Labels, SelectableFields(e), nil
}

// REST is the Event storage.
type REST struct{ *genericregistry.Store }

// ShortNames lets `kubectl get ev` work.
func (*REST) ShortNames() []string { return []string{"ev"} }

// NewStorage returns the Event storage.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	s := strategy{registry.Strategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, Namespaced: true, CreateOnUpdate: true, UnconditionalUpdate: true}}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: corev1.Resource("events"),
		Singular: "event",
		New:      func() runtime.Object { return &corev1.Event{} },
		NewList:  func() runtime.Object { return &corev1.EventList{} },
		Strategy: s,
		AttrFunc: GetAttrs,
		Table: table.Convertor{
			Columns: []metav1.TableColumnDefinition{
				{Name: "Last Seen", Type: "string"},
				{Name: "Type", Type: "string"},
				{Name: "Reason", Type: "string"},
				{Name: "Object", Type: "string"},
				{Name: "Message", Type: "string"},
			},
			Cells: func(obj runtime.Object) ([]any, error) {
				e := obj.(*corev1.Event)
				last := e.LastTimestamp
				if last.IsZero() {
					last = e.CreationTimestamp
				}
				return []any{table.Age(last, time.Now()), e.Type, e.Reason, strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name, e.Message}, nil
			},
		},
		Customize: func(store *genericregistry.Store) {
			store.TTLFunc = func(runtime.Object, uint64, bool) (uint64, error) {
				return uint64(TTL.Seconds()), nil
			}
		},
	})
	if err != nil {
		return nil, err
	}
	return &REST{store}, nil
}
