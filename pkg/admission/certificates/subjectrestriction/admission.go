// Package subjectrestriction is the CertificateSubjectRestriction admission plugin: a
// CertificateSigningRequest for the kubernetes.io/kube-apiserver-client signer whose
// subject names the system:masters group is refused at create, so nobody can obtain a
// superuser client certificate through the API.
package subjectrestriction

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/admission/certificates"
)

// PluginName is the plugin's name in admission configuration.
const PluginName = certificates.CertificateSubjectRestriction

var csrResource = certificatesv1.Resource("certificatesigningrequests")

// Plugin implements CertificateSubjectRestriction.
type Plugin struct {
	*admission.Handler
}

var (
	_ admission.ValidationInterface     = (*Plugin)(nil)
	_ admission.InitializationValidator = (*Plugin)(nil)
)

// New returns the plugin.
func New() admission.ValidationInterface {
	return newPlugin()
}

func newPlugin() *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create)}
}

// Register adds the plugin to plugins.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) {
		return newPlugin(), nil
	})
}

// ValidateInitialization needs nothing.
func (p *Plugin) ValidateInitialization() error { return nil }

// Validate refuses creating a kube-apiserver-client CSR whose subject Organization
// contains system:masters. A request that cannot be parsed is refused too (Forbidden,
// as upstream); validation would reject it anyway.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() != admission.Create || a.GetSubresource() != "" || a.GetResource().GroupResource() != csrResource {
		return nil
	}
	csr, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName {
		return nil
	}
	req, err := parseCSR(csr.Spec.Request)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to parse CSR: %v", err))
	}
	if slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		klog.FromContext(ctx).V(4).Info("CSR rejected: kube-apiserver-client signer with system:masters group", "csr", csr.Name, "plugin", PluginName)
		return admission.NewForbidden(a, fmt.Errorf("use of %s signer with system:masters group is not allowed",
			certificatesv1.KubeAPIServerClientSignerName))
	}
	return nil
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
