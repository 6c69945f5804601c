// Package signing is the CertificateSigning admission plugin: an update through the
// /status subresource of a CertificateSigningRequest that changes status.certificate or
// status.conditions needs the `sign` verb on the CSR's signer, checked against the stored
// object's spec.signerName. Other /status writes need only RBAC update on
// certificatesigningrequests/status.
package signing

import (
	"reflect"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateSigning

// New returns the plugin, asking authz about signers: a /status update needs `sign` when
// it changes the certificate or the conditions (a signer reporting Failed counts as
// signing, as in current kube-apiserver). The comparisons are upstream's: reflect.DeepEqual
// on the certificate bytes (so nil and empty differ) and semantic equality on the
// conditions.
func New(authz authorizer.Authorizer) *certificates.SignerVerbPlugin {
	return certificates.NewSignerVerbPlugin(authz, "status", "sign", func(old, obj *certificatesv1.CertificateSigningRequest) bool {
		return !reflect.DeepEqual(old.Status.Certificate, obj.Status.Certificate) ||
			!equality.Semantic.DeepEqual(old.Status.Conditions, obj.Status.Conditions)
	})
}
