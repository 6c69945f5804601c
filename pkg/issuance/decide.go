// Package issuance is how a CSR is decided by rule and signed, whoever runs it: today the
// approver and signer controllers (pkg/controller/approver, pkg/controller/csrsigning), in
// the one-write design the CSR storage itself (docs/design/one-write.md). Nothing here
// talks to an API server: the Decider asks an authorization function and reads policies
// through a lister, the Issuer signs with the served signers' CA backends, so a rule
// decides and a signer signs the same wherever they run.
package issuance

import (
	"context"
	"crypto/x509"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/csr"
)

// Reasons of the conditions a rule's decision writes.
const (
	// ReasonAutoApproved is Kubernetes' reason for its kubelet client approval.
	ReasonAutoApproved = "AutoApproved"
	// ReasonGuardRail is a guard rail's; ReasonPolicyPrefix starts a policy's
	// ("ApprovalPolicy/<name>").
	ReasonGuardRail    = "GuardRail"
	ReasonPolicyPrefix = "ApprovalPolicy/"
)

// Decision is what a rule decided about a CSR.
type Decision struct {
	// Approve or Deny; both false means no opinion.
	Approve, Deny bool
	// Reason and Message go into the condition (or, with no opinion, the verdict
	// annotation).
	Reason, Message string
}

// Condition returns the Approved or Denied condition of d; false for no opinion.
func (d Decision) Condition() (certificatesv1.CertificateSigningRequestCondition, bool) {
	c := certificatesv1.CertificateSigningRequestCondition{Status: corev1.ConditionTrue, Reason: d.Reason, Message: d.Message}
	switch {
	case d.Deny:
		c.Type = certificatesv1.CertificateDenied
	case d.Approve:
		c.Type = certificatesv1.CertificateApproved
	default:
		return c, false
	}
	return c, true
}

// PolicyFunc decides a CSR by policy.
type PolicyFunc func(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (Decision, error)

// Decider decides a Pending CSR by rule: Kubernetes' kubelet client approval first, then
// the approval policies behind the guard rails. Join tokens are the approver's: deciding
// one spends the token.
type Decider struct {
	// Authorize answers whether obj's requester may create
	// certificatesigningrequests/<subresource> (a SubjectAccessReview).
	Authorize func(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, subresource string) (bool, error)
	// Policies decides by policy; nil when no policy engine runs.
	Policies PolicyFunc
}

// Decide decides obj, whose request the caller has parsed (req). No opinion is a Decision
// with neither Approve nor Deny, and the message saying why, if any.
func (d *Decider) Decide(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (Decision, error) {
	if approved, message, err := d.kubeletClient(ctx, obj, req); err != nil || approved {
		return Decision{Approve: approved, Reason: ReasonAutoApproved, Message: message}, err
	}
	if d.Policies == nil {
		return Decision{}, nil
	}
	return d.Policies(ctx, obj, req)
}

// kubeletClient is kube-controller-manager's csrapproving: recognise a kubelet client CSR,
// then approve when the requester may create selfnodeclient (renewal of its own
// certificate) or nodeclient (bootstrap) requests.
func (d *Decider) kubeletClient(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, req *x509.CertificateRequest) (bool, string, error) {
	if obj.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || !csr.IsKubeletClientCSR(req, obj.Spec.Usages) {
		return false, "", nil
	}
	recognizers := []struct {
		subresource, message string
		applies              bool
	}{
		{"selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview.", obj.Spec.Username == req.Subject.CommonName},
		{"nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview.", true},
	}
	for _, r := range recognizers {
		if !r.applies || d.Authorize == nil {
			continue
		}
		allowed, err := d.Authorize(ctx, obj, r.subresource)
		if err != nil {
			return false, "", err
		}
		if allowed {
			return true, r.message, nil
		}
	}
	return false, "", nil
}

// Authorizer returns the Decider's Authorize over an authorizer, for a caller in the
// server's own process: the SubjectAccessReview the approver controller sends, asked
// directly.
func Authorizer(a authorizer.Authorizer) func(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
	return func(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
		extra := make(map[string][]string, len(obj.Spec.Extra))
		for k, v := range obj.Spec.Extra {
			extra[k] = v
		}
		// As the SubjectAccessReview endpoint: an evaluation error (a binding to a missing
		// role) is not an error of the review, only allowed or not.
		decision, _, _ := a.Authorize(ctx, authorizer.AttributesRecord{
			User:            &user.DefaultInfo{Name: obj.Spec.Username, UID: obj.Spec.UID, Groups: obj.Spec.Groups, Extra: extra},
			Verb:            "create",
			APIGroup:        certificatesv1.GroupName,
			APIVersion:      "*",
			Resource:        "certificatesigningrequests",
			Subresource:     subresource,
			ResourceRequest: true,
		})
		return decision == authorizer.DecisionAllow, nil
	}
}
