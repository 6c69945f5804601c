package issuedcertificate

import (
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage/names"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/registry/subresource"
	"kcsr.dev/kcsr/pkg/registry/table"
)

// REST is the main resource.
type REST struct{ *genericregistry.Store }

// ShortNames lets `kubectl get ic` work.
func (*REST) ShortNames() []string { return []string{"ic", "issuedcert"} }

// Categories puts the inventory in `kubectl get kcsr`.
func (*REST) Categories() []string { return []string{"kcsr"} }

// NewStorage returns the main and status storage.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, *subresource.REST, error) {
	s := strategy{scheme, names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &kcsrv1alpha1.IssuedCertificate{} },
		NewListFunc:               func() runtime.Object { return &kcsrv1alpha1.IssuedCertificateList{} },
		PredicateFunc:             Matcher,
		DefaultQualifiedResource:  kcsrv1alpha1.Resource("issuedcertificates"),
		SingularQualifiedResource: kcsrv1alpha1.Resource("issuedcertificate"),
		CreateStrategy:            s,
		UpdateStrategy:            s,
		DeleteStrategy:            s,
		ResetFieldsStrategy:       s,
		TableConvertor:            TableConvertor(time.Now),
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, fmt.Errorf("issuedcertificates storage: %w", err)
	}
	statusStore := *store
	statusStore.UpdateStrategy = statusStrategy{s}
	statusStore.ResetFieldsStrategy = statusStrategy{s}
	return &REST{store}, subresource.New(&statusStore), nil
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
