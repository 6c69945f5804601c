package issuedcertificate

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry"
	"kcsr.dev/kcsr/pkg/registry/subresource"
	"kcsr.dev/kcsr/pkg/registry/table"
)

// REST is the main resource.
type REST struct {
	*genericregistry.Store
	// now is the clock deletions are checked against.
	now func() time.Time
	// lookup, when set, answers field-selector lists on indexed fields (List).
	lookup Lookup
	// revocations writes and reads the revoked records apart (revocations.go).
	revocations *revocationStorage
}

// Delete deletes a record whose certificate has expired; any other is refused (Deletable).
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	return r.Store.Delete(ctx, name, r.guard(deleteValidation), options)
}

// DeleteCollection deletes the selected records one by one through the same check as
// Delete; it stops at the first record refused.
func (r *REST) DeleteCollection(ctx context.Context, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions, listOptions *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.Store.DeleteCollection(ctx, r.guard(deleteValidation), options, listOptions)
}

// guard runs Deletable, then deleteValidation (admission), on the object as stored when
// it is deleted: the store calls it inside the conditional delete.
func (r *REST) guard(deleteValidation rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("expected an IssuedCertificate, got %T", obj))
		}
		if err := Deletable(ic, r.now()); err != nil {
			return apierrors.NewForbidden(kcsrv1alpha1.Resource("issuedcertificates"), ic.Name, err)
		}
		if deleteValidation == nil {
			return nil
		}
		return deleteValidation(ctx, obj)
	}
}

// Deletable refuses the deletion of a record before its certificate expires, saying why
// and from when it can be deleted.
func Deletable(ic *kcsrv1alpha1.IssuedCertificate, now time.Time) error {
	notAfter := ic.Spec.NotAfter.Time
	if notAfter.IsZero() || now.After(notAfter) {
		return nil
	}
	after := notAfter.UTC().Format(time.RFC3339)
	if r := ic.Status.Revocation; r != nil {
		return fmt.Errorf("certificate %s (CN=%s) was revoked (%s) on %s and expires at %s; its record is what keeps it refused at login and listed in the CRL and OCSP, so it cannot be deleted before it expires: delete it after %s",
			ic.Spec.SerialNumber, ic.Spec.CommonName, r.Reason, r.Time.UTC().Format(time.RFC3339), after, after)
	}
	return fmt.Errorf("certificate %s (CN=%s) is valid until %s; without its record it could no longer be revoked, so the record cannot be deleted before it expires: revoke it (kcsr revoke %s) if it must stop working, and delete the record after %s",
		ic.Spec.SerialNumber, ic.Spec.CommonName, after, ic.Spec.SerialNumber, after)
}

// ShortNames lets `kubectl get ic` work.
func (*REST) ShortNames() []string { return []string{"ic", "issuedcert"} }

// Categories puts the inventory in `kubectl get kcsr`.
func (*REST) Categories() []string { return []string{"kcsr"} }

// NewStorage returns the main and status storage; lookup, when not nil, answers
// field-selector lists on the fields it indexes.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, lookup Lookup) (*REST, *subresource.REST, error) {
	s := strategy{registry.NewStrategy(scheme)}
	store, err := registry.NewStore(optsGetter, registry.StoreSpec{
		Resource: kcsrv1alpha1.Resource("issuedcertificates"),
		Singular: "issuedcertificate",
		New:      func() runtime.Object { return &kcsrv1alpha1.IssuedCertificate{} },
		NewList:  func() runtime.Object { return &kcsrv1alpha1.IssuedCertificateList{} },
		Strategy: s,
		AttrFunc: GetAttrs,
		Table:    TableConvertor(time.Now),
	})
	if err != nil {
		return nil, nil, err
	}
	// Records are updated and deleted with the mirrors of their revocations.
	opts, err := optsGetter.GetRESTOptions(store.DefaultQualifiedResource, store.NewFunc())
	if err != nil {
		return nil, nil, err
	}
	revocations, err := newRevocationStorage(store.Storage.Storage, opts, store.KeyRootFunc(context.Background()))
	if err != nil {
		return nil, nil, err
	}
	store.Storage.Storage = revocations
	destroy := store.DestroyFunc
	store.DestroyFunc = func() {
		if destroy != nil {
			destroy()
		}
		_ = revocations.close()
	}
	statusStore := *store
	statusStore.UpdateStrategy = statusStrategy{s}
	statusStore.ResetFieldsStrategy = statusStrategy{s}
	return &REST{Store: store, now: time.Now, lookup: lookup, revocations: revocations}, subresource.New(&statusStore), nil
}

// TableConvertor renders the inventory: who, what, by whom, until when, and its state.
func TableConvertor(now func() time.Time) table.Convertor {
	return table.Convertor{
		Columns: []metav1.TableColumnDefinition{
			table.NameColumn,
			{Name: "Serial", Type: "string", Description: "Serial number (hex)."},
			{Name: "CommonName", Type: "string", Description: "Subject common name (the user)."},
			{Name: "Organizations", Type: "string", Description: "Subject organizations (the groups)."},
			{Name: "Signer", Type: "string", Description: "Signer name."},
			{Name: "NotAfter", Type: "string", Format: "date-time", Description: "End of validity."},
			{Name: "State", Type: "string", Description: "Valid, Expired or Revoked."},
			{Name: "CSR", Type: "string", Priority: 1, Description: "The CSR answered."},
			{Name: "Requestor", Type: "string", Priority: 1, Description: "Who created the CSR."},
			{Name: "Fingerprint", Type: "string", Priority: 1, Description: "SHA-256 fingerprint."},
		},
		Cells: func(obj runtime.Object) ([]any, error) {
			ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate)
			if !ok {
				return nil, fmt.Errorf("expected an IssuedCertificate, got %T", obj)
			}
			orgs := strings.Join(ic.Spec.Organizations, ",")
			if orgs == "" {
				orgs = "<none>"
			}
			return []any{
				ic.Name,
				ic.Spec.SerialNumber,
				ic.Spec.CommonName,
				orgs,
				ic.Spec.SignerName,
				ic.Spec.NotAfter.UTC().Format(time.RFC3339),
				State(ic, now()),
				ic.Spec.CSRName,
				ic.Spec.Requester.Username,
				ic.Spec.SHA256Fingerprint,
			}, nil
		},
	}
}

// State is Revoked (with the reason), else Expired past NotAfter, else Valid.
func State(ic *kcsrv1alpha1.IssuedCertificate, now time.Time) string {
	if r := ic.Status.Revocation; r != nil {
		return "Revoked:" + r.Reason
	}
	if now.After(ic.Spec.NotAfter.Time) {
		return "Expired"
	}
	return "Valid"
}
