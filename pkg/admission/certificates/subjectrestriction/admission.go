// Package subjectrestriction is the CertificateSubjectRestriction admission plugin: a
// CertificateSigningRequest for the kubernetes.io/kube-apiserver-client signer whose
// subject names the system:masters group is refused at create, so nobody can obtain a
// superuser client certificate through the API.
//
// kcsr extends it to the login signers it is given: custom signers whose CA the server
// trusts for client certificates (signer.MarkLoginSigners), whose certificates log in as
// those of kube-apiserver-client do. The other kubernetes.io signers keep Kubernetes'
// behaviour (their own rules, subject O=system:nodes, refuse system:masters when
// signing), and the kube-apiserver-client refusal keeps upstream's text.
package subjectrestriction

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/admission/certificates"
	kcsrcsr "kcsr.dev/kcsr/pkg/csr"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateSubjectRestriction

// Plugin implements CertificateSubjectRestriction.
type Plugin struct {
	*admission.Handler
	// loginSigners are the signers, besides kube-apiserver-client, refused system:masters.
	loginSigners map[string]bool
}

var _ admission.ValidationInterface = (*Plugin)(nil)

// New returns the plugin, refusing system:masters for kubernetes.io/kube-apiserver-client
// and for the custom signers among loginSigners (the signers whose certificates log in).
func New(loginSigners ...string) admission.ValidationInterface {
	p := &Plugin{Handler: admission.NewHandler(admission.Create), loginSigners: map[string]bool{}}
	for _, name := range loginSigners {
		if !kcsrcsr.IsKubernetesSignerName(name) {
			p.loginSigners[name] = true
		}
	}
	return p
}

// Validate refuses creating a CSR of kube-apiserver-client or of a login signer whose
// subject Organization contains system:masters. A request that cannot be parsed is
// refused too (Forbidden, as upstream); validation would reject it anyway.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() != admission.Create || a.GetSubresource() != "" || a.GetResource().GroupResource() != certificates.Resource {
		return nil
	}
	obj, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	signerName := obj.Spec.SignerName
	builtIn := signerName == certificatesv1.KubeAPIServerClientSignerName
	if !builtIn && !p.loginSigners[signerName] {
		return nil
	}
	req, err := parseCSR(obj.Spec.Request)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to parse CSR: %v", err))
	}
	if !slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		return nil
	}
	klog.FromContext(ctx).V(4).Info("CSR rejected: login signer with system:masters group", "csr", obj.Name, "signer", signerName, "plugin", PluginName)
	if builtIn {
		return admission.NewForbidden(a, fmt.Errorf("use of %s signer with system:masters group is not allowed",
			certificatesv1.KubeAPIServerClientSignerName))
	}
	return admission.NewForbidden(a, fmt.Errorf("use of %s signer with system:masters group is not allowed: this server accepts the signer's certificates for login (its CA is trusted for client authentication); request the certificate without system:masters",
		signerName))
}

// parseCSR decodes the first PEM block of pemBytes as a PKCS#10 request, as upstream's
// certificates.ParseCSR does (the signature is not checked here).
func parseCSR(pemBytes []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("PEM block type must be CERTIFICATE REQUEST")
	}
	return x509.ParseCertificateRequest(block.Bytes)
}
