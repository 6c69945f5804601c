// Package approval is the CertificateApproval admission plugin: an update through the
// /approval subresource of a CertificateSigningRequest (approving or denying it, or
// rewriting its conditions) needs the `approve` verb on the CSR's signer, checked against
// the stored object's spec.signerName. RBAC update on certificatesigningrequests/approval
// is checked separately, by the authorizer.
package approval

import (
	"context"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateApproval

var csrResource = certificatesv1.Resource("certificatesigningrequests")

// Plugin implements CertificateApproval.
type Plugin struct {
	*admission.Handler
	authz authorizer.Authorizer
}

var _ admission.ValidationInterface = (*Plugin)(nil)

// New returns the plugin, asking authz about signers.
func New(authz authorizer.Authorizer) admission.ValidationInterface {
	return &Plugin{Handler: admission.NewHandler(admission.Update), authz: authz}
}

// Validate requires `approve` on the signer of the CSR being updated through /approval.
// It checks the old object's signerName, so a request that also tries to change the signer
// is judged on the signer it had.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() != admission.Update || a.GetSubresource() != "approval" || a.GetResource().GroupResource() != csrResource {
		return nil
	}
	csr, ok := a.GetOldObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetOldObject()))
	}
	if !certificates.IsAuthorizedForSignerName(ctx, p.authz, a.GetUserInfo(), "approve", csr.Spec.SignerName) {
		klog.FromContext(ctx).V(4).Info("User not permitted to approve CSR", "csr", csr.Name, "signer", csr.Spec.SignerName)
		return admission.NewForbidden(a, fmt.Errorf("user not permitted to approve requests with signerName %q", csr.Spec.SignerName))
	}
	return nil
}
