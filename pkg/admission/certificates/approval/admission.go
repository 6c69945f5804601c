// Package approval is the CertificateApproval admission plugin: an update through the
// /approval subresource of a CertificateSigningRequest (approving or denying it, or
// rewriting its conditions) needs the `approve` verb on the CSR's signer, checked against
// the stored object's spec.signerName. RBAC update on certificatesigningrequests/approval
// is checked separately, by the authorizer.
package approval

import (
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateApproval

// New returns the plugin, asking authz about signers: every update through /approval
// needs `approve` on the stored CSR's signer.
func New(authz authorizer.Authorizer) *certificates.SignerVerbPlugin {
	return certificates.NewSignerVerbPlugin(authz, "approval", "approve", nil)
}
