// Package approval is the CertificateApproval admission plugin: an update through the
// /approval subresource of a CertificateSigningRequest (approving or denying it, or
// rewriting its conditions) needs the `approve` verb on the CSR's signer, checked against
// the stored object's spec.signerName. RBAC update on certificatesigningrequests/approval
// is checked separately, by the authorizer.
package approval

import (
	"context"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateApproval

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
	old, _, err := certificates.SubresourceUpdate(a, "approval")
	if old == nil {
		return err
	}
	return certificates.RequireSignerVerb(ctx, p.authz, a, "approve", old)
}
