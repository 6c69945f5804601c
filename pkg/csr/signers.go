package csr

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// The signer names that Kubernetes defines. The first three have in-tree signers with the
// constraints checked below.
const (
	// KubeAPIServerClientSignerName issues client certificates that kube-apiserver honours.
	KubeAPIServerClientSignerName = certificatesv1.KubeAPIServerClientSignerName
	// KubeAPIServerClientKubeletSignerName issues kubelets' client certificates.
	KubeAPIServerClientKubeletSignerName = certificatesv1.KubeAPIServerClientKubeletSignerName
	// KubeletServingSignerName issues kubelets' serving certificates.
	KubeletServingSignerName = certificatesv1.KubeletServingSignerName
	// LegacyUnknownSignerName exists only for CSRs created through the removed v1beta1 API;
	// API validation refuses it on new objects, and its signer applies no constraints.
	LegacyUnknownSignerName = "kubernetes.io/legacy-unknown"
)

// IsKubernetesSignerName reports whether signerName is reserved by the Kubernetes project:
// its domain (the part before the first "/") is kubernetes.io or a subdomain of it.
func IsKubernetesSignerName(signerName string) bool {
	domain, _, _ := strings.Cut(signerName, "/")
	return domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io")
}

// Errors of the kubelet signers' subject checks. Their texts are the ones the in-tree signer
// writes into a Failed condition.
var (
	ErrOrganizationNotSystemNodes = errors.New("subject organization is not system:nodes")
	ErrCommonNameNotSystemNode    = errors.New("subject common name does not begin with system:node:")
	ErrDNSOrIPSANRequired         = errors.New("DNS or IP subjectAltName is required")
	ErrDNSSANNotAllowed           = errors.New("DNS subjectAltNames are not allowed")
	ErrEmailSANNotAllowed         = errors.New("Email subjectAltNames are not allowed") //nolint:staticcheck // upstream text starts with a capital
	ErrIPSANNotAllowed            = errors.New("IP subjectAltNames are not allowed")
	ErrURISANNotAllowed           = errors.New("URI subjectAltNames are not allowed")
)

const (
	nodesGroup       = "system:nodes"
	nodeNamePrefix   = "system:node:"
	errUsageMismatch = "usages did not match %v"
)

// The usage sets the kubelet signers accept: with key encipherment (what kubelets with RSA
// keys request) or without it (other key types). Either is accepted whatever the key type.
var (
	kubeletClientUsages = []certificatesv1.KeyUsage{
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth,
	}
	kubeletClientUsagesNoKeyEncipherment = []certificatesv1.KeyUsage{
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth,
	}
	kubeletServingUsages = []certificatesv1.KeyUsage{
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth,
	}
	kubeletServingUsagesNoKeyEncipherment = []certificatesv1.KeyUsage{
		certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth,
	}
)

// SignerRules returns the constraints of a built-in signer that has some
// (kube-apiserver-client, kube-apiserver-client-kubelet, kubelet-serving), as
// ValidateForSigner runs them; nil for any other signerName, the legacy one included.
func SignerRules(signerName string) func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error {
	switch signerName {
	case KubeAPIServerClientSignerName:
		return ValidateKubeAPIServerClient
	case KubeAPIServerClientKubeletSignerName:
		return ValidateKubeletClient
	case KubeletServingSignerName:
		return ValidateKubeletServing
	}
	return nil
}

// ValidateForSigner runs the constraints of the built-in signer signerName, as the in-tree
// signer does before it signs. The legacy-unknown signer has no constraints; any other name
// gives `unrecognized signerName: "<name>"`.
func ValidateForSigner(signerName string, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if rules := SignerRules(signerName); rules != nil {
		return rules(req, usages)
	}
	if signerName == LegacyUnknownSignerName {
		return nil
	}
	return fmt.Errorf("unrecognized signerName: %q", signerName)
}

// ValidateKubeAPIServerClient checks the constraints of the kubernetes.io/kube-apiserver-client
// signer: every usage is digital signature, key encipherment or client auth, and client auth
// is present. The signer puts no constraint on the request itself (req is not inspected);
// the system:masters restriction is an admission check at create time, not a signer one.
func ValidateKubeAPIServerClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	hasClientAuth := false
	for _, u := range usages {
		switch u {
		case certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment:
		case certificatesv1.UsageClientAuth:
			hasClientAuth = true
		default:
			return fmt.Errorf("invalid usage for client certificate: %s", u)
		}
	}
	if !hasClientAuth {
		return fmt.Errorf("missing required usage for client certificate: %s", certificatesv1.UsageClientAuth)
	}
	return nil
}

// ValidateKubeletClient checks the constraints of the
// kubernetes.io/kube-apiserver-client-kubelet signer, in the in-tree order: organization
// exactly [system:nodes]; no DNS, email, IP or URI SANs; common name starting with
// system:node:; usages exactly {digital signature, client auth}, optionally with key
// encipherment. Duplicate usages count once.
func ValidateKubeletClient(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !isNodesOrganization(req) {
		return ErrOrganizationNotSystemNodes
	}
	switch {
	case len(req.DNSNames) > 0:
		return ErrDNSSANNotAllowed
	case len(req.EmailAddresses) > 0:
		return ErrEmailSANNotAllowed
	case len(req.IPAddresses) > 0:
		return ErrIPSANNotAllowed
	case len(req.URIs) > 0:
		return ErrURISANNotAllowed
	}
	if !strings.HasPrefix(req.Subject.CommonName, nodeNamePrefix) {
		return ErrCommonNameNotSystemNode
	}
	if !sameUsageSet(usages, kubeletClientUsages) && !sameUsageSet(usages, kubeletClientUsagesNoKeyEncipherment) {
		return fmt.Errorf(errUsageMismatch, sortedUsages(kubeletClientUsages))
	}
	return nil
}

// IsKubeletClientCSR reports whether req and usages meet the kubelet client signer's
// constraints. The csrapproving controller uses it to recognize kubelet client CSRs.
func IsKubeletClientCSR(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) bool {
	return ValidateKubeletClient(req, usages) == nil
}

// ValidateKubeletServing checks the constraints of the kubernetes.io/kubelet-serving signer,
// in the in-tree order: organization exactly [system:nodes]; at least one DNS or IP SAN; no
// email or URI SANs; usages exactly {digital signature, server auth}, optionally with key
// encipherment; common name starting with system:node:. Duplicate usages count once.
//
// Whether the names belong to the requesting node is for the approver to decide.
func ValidateKubeletServing(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if !isNodesOrganization(req) {
		return ErrOrganizationNotSystemNodes
	}
	if len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		return ErrDNSOrIPSANRequired
	}
	switch {
	case len(req.EmailAddresses) > 0:
		return ErrEmailSANNotAllowed
	case len(req.URIs) > 0:
		return ErrURISANNotAllowed
	}
	if !sameUsageSet(usages, kubeletServingUsages) && !sameUsageSet(usages, kubeletServingUsagesNoKeyEncipherment) {
		return fmt.Errorf(errUsageMismatch, sortedUsages(kubeletServingUsages))
	}
	if !strings.HasPrefix(req.Subject.CommonName, nodeNamePrefix) {
		return ErrCommonNameNotSystemNode
	}
	return nil
}

// IsKubeletServingCSR reports whether req and usages meet the kubelet serving signer's
// constraints.
func IsKubeletServingCSR(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) bool {
	return ValidateKubeletServing(req, usages) == nil
}

func isNodesOrganization(req *x509.CertificateRequest) bool {
	return slices.Equal(req.Subject.Organization, []string{nodesGroup})
}

// sameUsageSet reports whether got, taken as a set, equals want (which has no duplicates).
func sameUsageSet(got, want []certificatesv1.KeyUsage) bool {
	seen := make(map[certificatesv1.KeyUsage]bool, len(got))
	for _, u := range got {
		if !slices.Contains(want, u) {
			return false
		}
		seen[u] = true
	}
	return len(seen) == len(want)
}

// sortedUsages returns the usages as sorted strings, the form the upstream error texts print
// (`[client auth digital signature key encipherment]`).
func sortedUsages(usages []certificatesv1.KeyUsage) []string {
	s := make([]string, len(usages))
	for i, u := range usages {
		s[i] = string(u)
	}
	slices.Sort(s)
	return s
}
