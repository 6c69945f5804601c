package csr

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// The state of a CSR is read from its conditions by type alone, whatever their status, as
// kubectl's CONDITION column and upstream's helpers (GetCertApprovalCondition,
// IsCertificateRequestApproved) read it. API validation lets an Approved, Denied or Failed
// condition have only status True, on every write path, so for a stored CSR the status
// adds nothing (upstream's HasTrueCondition also takes an empty status as True).

// State is the one-word state of a CSR: where it is on its way to a certificate.
type State string

// The states, in the order StateOf tries them: the first that applies is the CSR's state.
const (
	// Denied: an approver refused it (a Denied condition). A decision is final, and
	// kubectl shows Denied even beside an Approved condition.
	Denied State = "Denied"
	// Failed: the signer refused it (a Failed condition). A Failed CSR is never retried.
	Failed State = "Failed"
	// Issued: status.certificate is set.
	Issued State = "Issued"
	// Approved: approved (IsApproved), waiting for its signer.
	Approved State = "Approved"
	// Pending: waiting for a decision.
	Pending State = "Pending"
)

// StateOf classifies obj. Denied and Failed come before Issued as they do for a requester
// (client-go's certificate wait and kcsr request report a Denied or Failed CSR as such,
// whatever its status.certificate), and a certificate counts as Issued whether or not an
// Approved condition is there, as kubectl shows Issued either way.
func StateOf(obj *certificatesv1.CertificateSigningRequest) State {
	approved, denied, failed := Decisions(obj)
	switch {
	case denied:
		return Denied
	case failed:
		return Failed
	case IsIssued(obj):
		return Issued
	case approved:
		return Approved
	}
	return Pending
}

// ConditionString is kubectl's CONDITION column: Denied wins over Approved, else Pending;
// then ",Failed" and ",Issued" when they apply. kcsr adds ",SignerUnavailable" to an
// Approved CSR its signer cannot issue (kcsrv1alpha1.ConditionSignerUnavailable), so that
// "Approved but never issued" shows in the list, not only in describe.
func ConditionString(obj *certificatesv1.CertificateSigningRequest) string {
	approved, denied, failed := Decisions(obj)
	s := "Pending"
	switch {
	case denied:
		s = "Denied"
	case approved:
		s = "Approved"
	}
	if failed {
		s += ",Failed"
	}
	issued := IsIssued(obj)
	if issued {
		s += ",Issued"
	}
	if approved && !denied && !failed && !issued && HasCondition(obj, kcsrv1alpha1.ConditionSignerUnavailable) {
		s += ",SignerUnavailable"
	}
	return s
}

// Decisions reports which of the conditions Approved, Denied and Failed obj carries.
func Decisions(obj *certificatesv1.CertificateSigningRequest) (approved, denied, failed bool) {
	for _, c := range obj.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	return approved, denied, failed
}

// IsApproved reports whether obj is approved and not denied: upstream's
// IsCertificateRequestApproved, the test a signer applies before signing.
func IsApproved(obj *certificatesv1.CertificateSigningRequest) bool {
	approved, denied, _ := Decisions(obj)
	return approved && !denied
}

// IsDenied reports whether obj carries a Denied condition.
func IsDenied(obj *certificatesv1.CertificateSigningRequest) bool {
	return HasCondition(obj, certificatesv1.CertificateDenied)
}

// IsFailed reports whether obj carries a Failed condition.
func IsFailed(obj *certificatesv1.CertificateSigningRequest) bool {
	return HasCondition(obj, certificatesv1.CertificateFailed)
}

// IsIssued reports whether obj's status.certificate is set.
func IsIssued(obj *certificatesv1.CertificateSigningRequest) bool {
	return len(obj.Status.Certificate) > 0
}

// IsPending reports whether obj awaits a decision: neither Approved nor Denied
// (upstream's IsCertificateRequestPending).
func IsPending(obj *certificatesv1.CertificateSigningRequest) bool {
	approved, denied, _ := Decisions(obj)
	return !approved && !denied
}

// HasCondition reports whether obj carries a condition of type t, whatever its status.
func HasCondition(obj *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	return Condition(obj, t) != nil
}

// Condition returns obj's first condition of type t (validation allows only one of each
// type), or nil.
func Condition(obj *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range obj.Status.Conditions {
		if obj.Status.Conditions[i].Type == t {
			return &obj.Status.Conditions[i]
		}
	}
	return nil
}

// SetCondition adds c to obj's conditions, or replaces obj's condition of the same type in
// place, and reports whether that changed anything: a condition of the same type, status,
// reason and message is left as it is, times included. LastUpdateTime is set to now when
// c leaves it zero. LastTransitionTime is kept from the replaced condition when the status
// did not change, and otherwise left as c has it: zero lets the API server set it to the
// time of the write, as it does for a new condition type or a new status. Only the first
// condition of the type is replaced: a stored CSR with duplicates keeps them, since an
// update may not remove an Approved, Denied or Failed condition.
func SetCondition(obj *certificatesv1.CertificateSigningRequest, c certificatesv1.CertificateSigningRequestCondition, now time.Time) bool {
	if c.LastUpdateTime.IsZero() {
		c.LastUpdateTime = metav1.NewTime(now)
	}
	old := Condition(obj, c.Type)
	switch {
	case old == nil:
		obj.Status.Conditions = append(obj.Status.Conditions, c)
		return true
	case old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message:
		return false
	case old.Status == c.Status && c.LastTransitionTime.IsZero():
		c.LastTransitionTime = old.LastTransitionTime
	}
	*old = c
	return true
}
