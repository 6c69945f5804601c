// Package issuedcertificate is the REST storage of kcsr.dev/v1alpha1 IssuedCertificate, the
// inventory of issued certificates. Records are created by signers, never changed in spec
// (what was issued is history), and carry their later life (revocation) in status.
package issuedcertificate

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (strategy) NamespaceScoped() bool                                     { return false }
func (strategy) AllowCreateOnUpdate(context.Context) bool                  { return false }
func (strategy) AllowUnconditionalUpdate(context.Context) bool             { return false }
func (strategy) Canonicalize(runtime.Object)                               {}
func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }
func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"kcsr.dev/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// PrepareForCreate drops any status: a new record has no history yet.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*kcsrv1alpha1.IssuedCertificate).Status = kcsrv1alpha1.IssuedCertificateStatus{}
}

// PrepareForUpdate keeps status: the main resource changes metadata only.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*kcsrv1alpha1.IssuedCertificate).Status = old.(*kcsrv1alpha1.IssuedCertificate).Status
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validate(obj.(*kcsrv1alpha1.IssuedCertificate))
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	errs := apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	if !apiequality.Semantic.DeepEqual(n.Spec, o.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "an issued certificate's record cannot change"))
	}
	return errs
}

type statusStrategy struct{ strategy }

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"kcsr.dev/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

// PrepareForUpdate keeps spec and metadata changes out of a status write, and stamps a
// new revocation with the revoking user (and the time, when not given).
func (statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	n.Spec = o.Spec
	n.Labels, n.Annotations = o.Labels, o.Annotations
	if r := n.Status.Revocation; r != nil && !apiequality.Semantic.DeepEqual(r, o.Status.Revocation) {
		if u, ok := genericapirequest.UserFrom(ctx); ok {
			r.RevokedBy = u.GetName()
		}
		if r.Time.IsZero() {
			r.Time = metav1.Now()
		}
	}
}

// ReasonCertificateHold is the only revocation reason that can be lifted.
const ReasonCertificateHold = "certificateHold"

// RevocationReasons are the RFC 5280 CRLReason names a revocation may give.
var RevocationReasons = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", ReasonCertificateHold, "privilegeWithdrawn", "aACompromise"}

// ValidateUpdate: a revocation is durable; only a certificateHold can be lifted or made
// permanent.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	n, o := obj.(*kcsrv1alpha1.IssuedCertificate), old.(*kcsrv1alpha1.IssuedCertificate)
	errs := apivalidation.ValidateObjectMetaUpdate(&n.ObjectMeta, &o.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status", "revocation")
	nr, or := n.Status.Revocation, o.Status.Revocation
	if nr != nil && !slices.Contains(RevocationReasons, nr.Reason) {
		errs = append(errs, field.NotSupported(p.Child("reason"), nr.Reason, RevocationReasons))
	}
	if or != nil && or.Reason != ReasonCertificateHold && !apiequality.Semantic.DeepEqual(nr, or) {
		errs = append(errs, field.Forbidden(p, fmt.Sprintf("certificate %s was revoked (%s) on %s; a revocation is final, only certificateHold can be lifted", o.Spec.SerialNumber, or.Reason, or.Time.UTC().Format(time.RFC3339))))
	}
	return errs
}

func validate(ic *kcsrv1alpha1.IssuedCertificate) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ic.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	for _, f := range []struct {
		name, value string
	}{
		{"serialNumber", ic.Spec.SerialNumber},
		{"sha256Fingerprint", ic.Spec.SHA256Fingerprint},
		{"signerName", ic.Spec.SignerName},
		{"csrUID", ic.Spec.CSRUID},
	} {
		if f.value == "" {
			errs = append(errs, field.Required(spec.Child(f.name), ""))
		}
	}
	block, _ := pem.Decode(ic.Spec.Certificate)
	if block == nil || block.Type != "CERTIFICATE" {
		errs = append(errs, field.Invalid(spec.Child("certificate"), "", "must be a PEM CERTIFICATE block"))
	} else if cert, err := x509.ParseCertificate(block.Bytes); err != nil {
		errs = append(errs, field.Invalid(spec.Child("certificate"), "", err.Error()))
	} else if cert.SerialNumber.Text(16) != ic.Spec.SerialNumber {
		errs = append(errs, field.Invalid(spec.Child("serialNumber"), ic.Spec.SerialNumber, fmt.Sprintf("does not match the certificate's serial number %s", cert.SerialNumber.Text(16))))
	}
	return errs
}

// SelectableFields are the fields a field selector can match.
func SelectableFields(ic *kcsrv1alpha1.IssuedCertificate) fields.Set {
	return generic.MergeFieldsSets(generic.ObjectMetaFieldsSet(&ic.ObjectMeta, false), fields.Set{
		"spec.serialNumber":      ic.Spec.SerialNumber,
		"spec.sha256Fingerprint": ic.Spec.SHA256Fingerprint,
		"spec.signerName":        ic.Spec.SignerName,
		"spec.csrName":           ic.Spec.CSRName,
		"spec.commonName":        ic.Spec.CommonName,
	})
}

// GetAttrs returns labels and selectable fields.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate)
	if !ok {
		return nil, nil, fmt.Errorf("expected an IssuedCertificate, got %T", obj)
	}
	return ic.Labels, SelectableFields(ic), nil
}

// Matcher is the selection predicate for list and watch.
func Matcher(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
