// Package signing is the CertificateSigning admission plugin: an update through the
// /status subresource of a CertificateSigningRequest that changes status.certificate or
// status.conditions needs the `sign` verb on the CSR's signer, checked against the stored
// object's spec.signerName. Other /status writes need only RBAC update on
// certificatesigningrequests/status.
package signing

import (
	"context"
	"fmt"
	"reflect"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateSigning

var csrResource = certificatesv1.Resource("certificatesigningrequests")

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
	if a.GetOperation() != admission.Update || a.GetSubresource() != "status" || a.GetResource().GroupResource() != csrResource {
		return nil
	}
	oldCSR, ok := a.GetOldObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetOldObject()))
	}
	csr, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	if reflect.DeepEqual(oldCSR.Status.Certificate, csr.Status.Certificate) &&
		equality.Semantic.DeepEqual(oldCSR.Status.Conditions, csr.Status.Conditions) {
		return nil
	}
	if !certificates.IsAuthorizedForSignerName(ctx, p.authz, a.GetUserInfo(), "sign", oldCSR.Spec.SignerName) {
		klog.FromContext(ctx).V(4).Info("User not permitted to sign CSR", "csr", oldCSR.Name, "signer", oldCSR.Spec.SignerName)
		return admission.NewForbidden(a, fmt.Errorf("user not permitted to sign requests with signerName %q", oldCSR.Spec.SignerName))
	}
	return nil
}
