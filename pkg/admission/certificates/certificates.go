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
	"strings"

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
