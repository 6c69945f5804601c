// Package certificates holds what kcsr's three CertificateSigningRequest admission plugins
// share: their names and the signer authorization check. The plugins themselves live in
// the subpackages approval (CertificateApproval), signing (CertificateSigning) and
// subjectrestriction (CertificateSubjectRestriction), each with the behaviour and error
// texts of the kube-apiserver plugin of the same name
// (plugin/pkg/admission/certificates upstream).
//
// Nothing here reads storage or decides CSR validity; field validation belongs to the CSR
// registry strategy.
package certificates

import (
	"context"
	"fmt"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"
)

// Plugin names, as kube-apiserver's --enable-admission-plugins spells them.
const (
	CertificateApproval           = "CertificateApproval"
	CertificateSigning            = "CertificateSigning"
	CertificateSubjectRestriction = "CertificateSubjectRestriction"
)

// IsAuthorizedForSignerName reports whether info may perform verb ("approve" or "sign")
// on the synthetic resource signers.certificates.k8s.io named signerName. When the exact
// name is not allowed it asks again for "<domain>/*", the domain being everything before
// the first "/" (so "kubernetes.io/*" covers every kubernetes.io signer). An authorizer
// error is logged at V(3) and counts as not allowed.
func IsAuthorizedForSignerName(ctx context.Context, authz authorizer.Authorizer, info user.Info, verb, signerName string) bool {
	domain, _, _ := strings.Cut(signerName, "/")
	for _, name := range []string{signerName, domain + "/*"} {
		attrs := authorizer.AttributesRecord{
			User:            info,
			Verb:            verb,
			Name:            name,
			APIGroup:        "certificates.k8s.io",
			APIVersion:      "*",
			Resource:        "signers",
			ResourceRequest: true,
		}
		decision, reason, err := authz.Authorize(ctx, attrs)
		if err != nil {
			klog.FromContext(ctx).V(3).Info("Cannot authorize signer", "verb", verb, "signer", name, "reason", reason, "err", err)
			continue
		}
		if decision == authorizer.DecisionAllow {
			return true
		}
	}
	return false
}

// Resource is the resource the plugins guard.
var Resource = certificatesv1.Resource("certificatesigningrequests")

// SubresourceUpdate returns the stored and the new CSR of a, when a is an update of a CSR
// through subresource ("approval" or "status"); nil and nil for any other request, which
// the plugins let through. A request whose objects are not CSRs is Forbidden.
func SubresourceUpdate(a admission.Attributes, subresource string) (old, obj *certificatesv1.CertificateSigningRequest, err error) {
	if a.GetOperation() != admission.Update || a.GetSubresource() != subresource || a.GetResource().GroupResource() != Resource {
		return nil, nil, nil
	}
	for _, o := range []struct {
		got  any
		into **certificatesv1.CertificateSigningRequest
	}{{a.GetOldObject(), &old}, {a.GetObject(), &obj}} {
		csr, ok := o.got.(*certificatesv1.CertificateSigningRequest)
		if !ok {
			return nil, nil, admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", o.got))
		}
		*o.into = csr
	}
	return old, obj, nil
}

// RequireSignerVerb returns Forbidden unless the user of a may perform verb ("approve" or
// "sign") on the signer of the stored CSR old, with upstream's message.
func RequireSignerVerb(ctx context.Context, authz authorizer.Authorizer, a admission.Attributes, verb string, old *certificatesv1.CertificateSigningRequest) error {
	if IsAuthorizedForSignerName(ctx, authz, a.GetUserInfo(), verb, old.Spec.SignerName) {
		return nil
	}
	klog.FromContext(ctx).V(4).Info("User not permitted to "+verb+" CSR", "csr", old.Name, "signer", old.Spec.SignerName)
	return admission.NewForbidden(a, fmt.Errorf("user not permitted to %s requests with signerName %q", verb, old.Spec.SignerName))
}

// SignerVerbPlugin is the shape of CertificateApproval and CertificateSigning: an update of
// a CSR through Subresource needs Verb on the stored CSR's signer, when Matters says the
// update is one that needs it (nil: every such update does).
type SignerVerbPlugin struct {
	*admission.Handler
	Authorizer  authorizer.Authorizer
	Subresource string
	Verb        string
	Matters     func(old, obj *certificatesv1.CertificateSigningRequest) bool
}

var _ admission.ValidationInterface = (*SignerVerbPlugin)(nil)

// NewSignerVerbPlugin returns the plugin, asking authz about signers.
func NewSignerVerbPlugin(authz authorizer.Authorizer, subresource, verb string, matters func(old, obj *certificatesv1.CertificateSigningRequest) bool) *SignerVerbPlugin {
	return &SignerVerbPlugin{Handler: admission.NewHandler(admission.Update), Authorizer: authz, Subresource: subresource, Verb: verb, Matters: matters}
}

// Validate checks the signer verb. It judges the stored object's signerName, so a request
// that also tries to change the signer is judged on the signer it had.
func (p *SignerVerbPlugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	old, obj, err := SubresourceUpdate(a, p.Subresource)
	if old == nil {
		return err
	}
	if p.Matters != nil && !p.Matters(old, obj) {
		return nil
	}
	return RequireSignerVerb(ctx, p.Authorizer, a, p.Verb, old)
}
