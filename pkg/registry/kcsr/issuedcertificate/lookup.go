package issuedcertificate

import (
	"context"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
)

// Lookup returns the names of the records whose field may be value (a superset), from an
// index kept in step with this storage: kcsr server's inventory.Index. ok is false when
// it cannot answer (not loaded yet, or a field it does not index).
type Lookup func(field, value string) (names []string, ok bool)

// List answers a field-selector list with an equality on an indexed field (spec.serialNumber,
// spec.csrName, spec.commonName: `kcsr revoke`, doctor, describe, and any kubectl user)
// by reading the few records the index names, instead of every record in etcd: with a
// million records, milliseconds instead of seconds. Each record is read from storage and
// matched against the whole selector, so what is returned is current and exact. The index
// follows the storage by a watch, milliseconds behind: when it names no record, the
// storage is scanned as before, so a record created a moment ago is not missed; a second
// match created in that moment could be. Any other list is the store's.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	if list, ok, err := r.listIndexed(ctx, options); ok {
		return list, err
	}
	return r.Store.List(ctx, options)
}

func (r *REST) listIndexed(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, bool, error) {
	if r.lookup == nil || options == nil || options.FieldSelector == nil || options.Continue != "" ||
		(options.ResourceVersion != "" && options.ResourceVersion != "0") || options.ResourceVersionMatch != "" {
		return nil, false, nil
	}
	for _, req := range options.FieldSelector.Requirements() {
		if req.Operator != selection.Equals && req.Operator != selection.DoubleEquals {
			continue
		}
		names, ok := r.lookup(req.Field, req.Value)
		if !ok {
			if slices.Contains(inventory.LookupFields, req.Field) {
				metrics.InventoryLookups.WithLabelValues("storage").Inc() // not loaded yet
				return nil, false, nil
			}
			continue
		}
		if len(names) == 0 {
			metrics.InventoryLookups.WithLabelValues("storage").Inc()
			return nil, false, nil // perhaps not indexed yet: the storage answers
		}
		metrics.InventoryLookups.WithLabelValues("index").Inc()
		list, err := r.readAll(ctx, names, options)
		return list, true, err
	}
	return nil, false, nil
}

// readAll reads the named records and keeps those options' selectors match. The list's
// resourceVersion is the storage's before the reads: a watch from it may repeat a change
// the list shows, never miss one.
func (r *REST) readAll(ctx context.Context, names []string, options *metainternalversion.ListOptions) (*kcsrv1alpha1.IssuedCertificateList, error) {
	rv, err := r.Store.Storage.Storage.GetCurrentResourceVersion(ctx)
	if err != nil {
		return nil, err
	}
	label, field := labels.Everything(), fields.Everything()
	if options.LabelSelector != nil {
		label = options.LabelSelector
	}
	if options.FieldSelector != nil {
		field = options.FieldSelector
	}
	pred := r.Store.PredicateFunc(label, field)
	list := &kcsrv1alpha1.IssuedCertificateList{}
	for _, name := range names {
		obj, err := r.Store.Get(ctx, name, &metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if ok, err := pred.Matches(obj); err != nil {
			return nil, err
		} else if ok {
			list.Items = append(list.Items, *obj.(*kcsrv1alpha1.IssuedCertificate))
		}
	}
	list.ResourceVersion = strconv.FormatUint(rv, 10)
	return list, nil
}
