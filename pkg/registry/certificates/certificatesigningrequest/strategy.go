// Package certificatesigningrequest is the REST storage of certificates.k8s.io/v1
// CertificateSigningRequest. As in Kubernetes, three strategies split who may change what:
// the main resource changes only metadata (spec is immutable, status is ignored), /approval
// changes only the conditions (approvers), /status changes the certificate and the
// non-approval conditions (signers). Which callers may use /approval and /status for which
// signer is decided by admission (pkg/admission/certificates), not here.
package certificatesigningrequest

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"kcsr.dev/kcsr/pkg/apis/certificates/validation"
	"kcsr.dev/kcsr/pkg/registry"
)

// csrStrategy implements create and main-resource update behaviour.
type csrStrategy struct{ registry.Strategy }

// NewStrategy returns the strategy of the main resource. As in Kubernetes, CSRs are
// cluster-scoped, a PUT never creates one, and an update without resourceVersion applies
// to the latest object.
func NewStrategy(typer runtime.ObjectTyper) csrStrategy {
	s := registry.NewStrategy(typer)
	s.UnconditionalUpdate = true
	return csrStrategy{s}
}

// GetResetFields lists the fields server-side apply must not take ownership of through the
// main resource.
func (csrStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("certificates.k8s.io/v1", []any{"spec"}, []any{"status"})
}

// PrepareForCreate replaces whatever identity the client claimed with the authenticated
// caller's, and drops any status: users cannot create pre-approved requests.
func (csrStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	csr := obj.(*certificatesv1.CertificateSigningRequest)

	csr.Spec.Username = ""
	csr.Spec.UID = ""
	csr.Spec.Groups = nil
	csr.Spec.Extra = nil
	if user, ok := genericapirequest.UserFrom(ctx); ok {
		csr.Spec.Username = user.GetName()
		csr.Spec.UID = user.GetUID()
		csr.Spec.Groups = user.GetGroups()
		if extra := user.GetExtra(); len(extra) > 0 {
			csr.Spec.Extra = make(map[string]certificatesv1.ExtraValue, len(extra))
			for k, v := range extra {
				csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
			}
		}
	}
	csr.Status = certificatesv1.CertificateSigningRequestStatus{}
}

// PrepareForUpdate keeps spec and status: the main resource changes only metadata.
func (csrStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newCSR := obj.(*certificatesv1.CertificateSigningRequest)
	oldCSR := old.(*certificatesv1.CertificateSigningRequest)
	newCSR.Spec = oldCSR.Spec
	newCSR.Status = oldCSR.Status
}

// Validate checks a new CSR.
func (csrStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	errs, req := validation.ValidateCertificateSigningRequestCreateParsed(obj.(*certificatesv1.CertificateSigningRequest))
	if w := writeFrom(ctx); w != nil {
		w.req = req // decided and signed in this request: parsed once
	}
	return errs
}

// ValidateUpdate checks an update of the main resource.
func (csrStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateCertificateSigningRequestUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
}

// statusStrategy is the strategy of /status, used by signers.
type statusStrategy struct{ csrStrategy }

// NewStatusStrategy returns the strategy of /status.
func NewStatusStrategy(s csrStrategy) statusStrategy { return statusStrategy{s} }

// GetResetFields: /status must not change spec or the approval conditions.
func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("certificates.k8s.io/v1", []any{"spec"}, []any{"status", "conditions"})
}

// PrepareForUpdate restores spec and the Approved/Denied conditions from the stored object:
// a signer can set the certificate and add Failed, never approve or deny. Adding or removing
// an Approved/Denied condition is left in place so validation reports it.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newCSR := obj.(*certificatesv1.CertificateSigningRequest)
	oldCSR := old.(*certificatesv1.CertificateSigningRequest)
	newCSR.Spec = oldCSR.Spec
	preserveConditionInstances(newCSR, oldCSR, certificatesv1.CertificateApproved)
	preserveConditionInstances(newCSR, oldCSR, certificatesv1.CertificateDenied)
	populateConditionTimestamps(newCSR, oldCSR, metav1.Now())
}

// ValidateUpdate checks a /status update.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateCertificateSigningRequestStatusUpdate(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
}

// approvalStrategy is the strategy of /approval, used by approvers.
type approvalStrategy struct{ csrStrategy }

// NewApprovalStrategy returns the strategy of /approval.
func NewApprovalStrategy(s csrStrategy) approvalStrategy { return approvalStrategy{s} }

// GetResetFields: /approval must not change spec or the certificate.
func (approvalStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return registry.ResetFields("certificates.k8s.io/v1", []any{"spec"}, []any{"status", "certificate"})
}

// PrepareForUpdate keeps only the new conditions; spec and the rest of status come from the
// stored object, so an approver can never set the certificate.
func (approvalStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newCSR := obj.(*certificatesv1.CertificateSigningRequest)
	oldCSR := old.(*certificatesv1.CertificateSigningRequest)
	conditions := newCSR.Status.Conditions
	newCSR.Spec = oldCSR.Spec
	newCSR.Status = *oldCSR.Status.DeepCopy()
	newCSR.Status.Conditions = conditions
	populateConditionTimestamps(newCSR, oldCSR, metav1.Now())
}

// ValidateUpdate checks an /approval update.
func (approvalStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	errs, req := validation.ValidateCertificateSigningRequestApprovalUpdateParsed(obj.(*certificatesv1.CertificateSigningRequest), old.(*certificatesv1.CertificateSigningRequest))
	if w := writeFrom(ctx); w != nil {
		w.req = req // signed in this request: parsed once
	}
	return errs
}

// preserveConditionInstances copies the stored conditions of type t over the new ones when
// their number did not change, undoing edits to them. When the number changed it does
// nothing, and validation refuses the update.
func preserveConditionInstances(newCSR, oldCSR *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) {
	oldIdx := conditionIndices(oldCSR, t)
	newIdx := conditionIndices(newCSR, t)
	if len(oldIdx) != len(newIdx) {
		return
	}
	for i, o := range oldIdx {
		newCSR.Status.Conditions[newIdx[i]] = oldCSR.Status.Conditions[o]
	}
}

func conditionIndices(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) []int {
	var idx []int
	for i, c := range csr.Status.Conditions {
		if c.Type == t {
			idx = append(idx, i)
		}
	}
	return idx
}

// populateConditionTimestamps fills lastUpdateTime with now when unset, and
// lastTransitionTime from a stored condition of the same type and status, else now.
func populateConditionTimestamps(newCSR, oldCSR *certificatesv1.CertificateSigningRequest, now metav1.Time) {
	for i := range newCSR.Status.Conditions {
		c := &newCSR.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = now
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = now
		for _, o := range oldCSR.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
				break
			}
		}
	}
}

// SelectableFields returns the fields a field selector can match: the metadata fields and
// spec.signerName.
func SelectableFields(csr *certificatesv1.CertificateSigningRequest) fields.Set {
	return generic.MergeFieldsSets(
		generic.ObjectMetaFieldsSet(&csr.ObjectMeta, false),
		fields.Set{"spec.signerName": csr.Spec.SignerName},
	)
}

// GetAttrs returns labels and selectable fields of a CSR.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil, nil, errNotCSR(obj)
	}
	return csr.Labels, SelectableFields(csr), nil
}
