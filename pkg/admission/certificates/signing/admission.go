// Package signing is the CertificateSigning admission plugin: an update through the
// /status subresource of a CertificateSigningRequest that changes status.certificate or
// status.conditions needs the `sign` verb on the CSR's signer, checked against the stored
// object's spec.signerName. Other /status writes need only RBAC update on
// certificatesigningrequests/status.
package signing

import (
	"context"
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateSigning

// Plugin implements CertificateSigning.
type Plugin struct {
	*admission.Handler
	authz authorizer.Authorizer
}

var _ admission.ValidationInterface = (*Plugin)(nil)

// New returns the plugin, asking authz about signers.
func New(authz authorizer.Authorizer) admission.ValidationInterface {
	return &Plugin{Handler: admission.NewHandler(admission.Update), authz: authz}
}

// Validate requires `sign` on the signer when a /status update changes the certificate or
// the conditions (a signer reporting Failed counts as signing, as in current
// kube-apiserver). The comparisons are upstream's: reflect.DeepEqual on the certificate
// bytes (so nil and empty differ) and semantic equality on the conditions.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	old, csr, err := certificates.SubresourceUpdate(a, "status")
	if old == nil {
		return err
	}
	if reflect.DeepEqual(old.Status.Certificate, csr.Status.Certificate) &&
		equality.Semantic.DeepEqual(old.Status.Conditions, csr.Status.Conditions) {
		return nil
	}
	return certificates.RequireSignerVerb(ctx, p.authz, a, "sign", old)
}
