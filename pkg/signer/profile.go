// Package signer says how each signerName issues: with which CA, for how long at most, and
// which requests it must refuse. The built-in Kubernetes signers carry Kubernetes' rules
// (pkg/csr); custom signers carry the rules of the signer configuration file. It holds no
// Kubernetes machinery: the signer controller (pkg/controller/csrsigning) applies it to CSRs.
package signer

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/upstream"
)

// DefaultMaxDuration is kube-controller-manager's --cluster-signing-duration default.
const DefaultMaxDuration = 365 * 24 * time.Hour

// Profile is how one signerName issues.
type Profile struct {
	SignerName string
	CA         ca.Backend
	// Upstream, instead of CA, is a CA outside kcsr that signs the request itself.
	Upstream upstream.Signer
	// UpstreamLogin is the configuration's upstream.login: kcsr server accepts the
	// certificates of Upstream that its inventory records for this signer for login
	// (pkg/authn). MarkLoginSigners then makes it a login signer.
	UpstreamLogin bool
	MaxDuration   time.Duration
	// Check returns an error, saying what to change, for a request this signer must not
	// honour. The CSR is then marked Failed (SignerValidationFailure).
	Check func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error
	// Login is set by MarkLoginSigners when the server accepts this signer's certificates
	// for client authentication; Check then refuses the group system:masters.
	Login bool
}

// BuiltInSignerNames are the Kubernetes signers a kcsr server serves by default.
var BuiltInSignerNames = []string{
	certificatesv1.KubeAPIServerClientSignerName,
	certificatesv1.KubeAPIServerClientKubeletSignerName,
	certificatesv1.KubeletServingSignerName,
	csr.LegacyUnknownSignerName,
}

// builtInCheck returns Kubernetes' check for a built-in signer.
func builtInCheck(signerName string) func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error {
	return func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
		return csr.ValidateForSigner(signerName, req, usages)
	}
}

// Rules are the constraints of a custom signer. Empty lists allow nothing, except where
// noted. Patterns have `*` and `?` as wildcards, with a meaning per field (pattern.go,
// docs/signers.md): for DNS names, in the domain of an email address and in a URI's host,
// `*` matches within one label.
type Rules struct {
	// AllowedUsages lists the usages a request may ask for; empty allows any.
	AllowedUsages []certificatesv1.KeyUsage `json:"allowedUsages,omitempty"`
	// RequiredUsages must all be requested.
	RequiredUsages []certificatesv1.KeyUsage `json:"requiredUsages,omitempty"`
	// CommonNames are patterns the subject CN must match; empty allows any CN.
	CommonNames []string `json:"commonNames,omitempty"`
	// Organizations are patterns every subject O must match; empty allows none.
	Organizations []string `json:"organizations,omitempty"`
	// DNSNames, URIs and EmailAddresses are patterns every SAN of that kind must match;
	// empty allows none.
	DNSNames       []string `json:"dnsNames,omitempty"`
	URIs           []string `json:"uris,omitempty"`
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// IPRanges are CIDRs every IP SAN must be inside; empty allows none.
	IPRanges []string `json:"ipRanges,omitempty"`
}

// check applies the rules, returning the first violation with what to change.
func (r Rules) check(signerName string, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
	if len(r.AllowedUsages) > 0 {
		for _, u := range usages {
			if !slices.Contains(r.AllowedUsages, u) {
				return fmt.Errorf("usage %q is not allowed for signer %s; allowed: %s", u, signerName, joinUsages(r.AllowedUsages))
			}
		}
	}
	for _, u := range r.RequiredUsages {
		if !slices.Contains(usages, u) {
			return fmt.Errorf("usage %q is required by signer %s; add it to spec.usages", u, signerName)
		}
	}
	if len(r.CommonNames) > 0 && !matchText(r.CommonNames, req.Subject.CommonName) {
		return fmt.Errorf("subject common name %q is not allowed for signer %s; it must match one of %s", req.Subject.CommonName, signerName, strings.Join(r.CommonNames, ", "))
	}
	for _, o := range req.Subject.Organization {
		if !matchText(r.Organizations, o) {
			return fmt.Errorf("subject organization %q is not allowed for signer %s%s", o, signerName, allowedList(r.Organizations))
		}
	}
	for _, d := range req.DNSNames {
		labels, problem := dnsLabels(d)
		if problem != "" {
			return fmt.Errorf("DNS subjectAltName %q is not allowed for signer %s: %s", d, signerName, problem)
		}
		if !matchDNSName(r.DNSNames, labels) {
			return fmt.Errorf("DNS subjectAltName %q is not allowed for signer %s%s", d, signerName, allowedList(r.DNSNames))
		}
	}
	for _, u := range req.URIs {
		if !matchURI(r.URIs, u) {
			return fmt.Errorf("URI subjectAltName %q is not allowed for signer %s%s", u, signerName, allowedList(r.URIs))
		}
	}
	for _, e := range req.EmailAddresses {
		if problem := emailProblem(e); problem != "" {
			return fmt.Errorf("email subjectAltName %q is not allowed for signer %s: %s", e, signerName, problem)
		}
		if !matchEmail(r.EmailAddresses, e) {
			return fmt.Errorf("email subjectAltName %q is not allowed for signer %s%s", e, signerName, allowedList(r.EmailAddresses))
		}
	}
	for _, ip := range req.IPAddresses {
		if !inRanges(r.IPRanges, ip) {
			return fmt.Errorf("IP subjectAltName %s is not allowed for signer %s%s", ip, signerName, allowedList(r.IPRanges))
		}
	}
	return nil
}

func inRanges(cidrs []string, ip net.IP) bool {
	for _, c := range cidrs {
		if _, n, err := net.ParseCIDR(c); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

func allowedList(allowed []string) string {
	if len(allowed) == 0 {
		return " (it allows none)"
	}
	return "; allowed: " + strings.Join(allowed, ", ")
}

func joinUsages(us []certificatesv1.KeyUsage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}
