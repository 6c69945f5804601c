package testkit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"testing"
)

// RequestOption changes a PKCS#10 request template built by Request.
type RequestOption func(testing.TB, *x509.CertificateRequest)

// Request returns a request template for subject CN cn, changed by opts.
func Request(t testing.TB, cn string, opts ...RequestOption) *x509.CertificateRequest {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
	for _, o := range opts {
		o(t, tmpl)
	}
	return tmpl
}

// WithOrg sets the subject's organizations.
func WithOrg(orgs ...string) RequestOption {
	return func(_ testing.TB, r *x509.CertificateRequest) { r.Subject.Organization = orgs }
}

// WithDNS adds DNS names.
func WithDNS(names ...string) RequestOption {
	return func(_ testing.TB, r *x509.CertificateRequest) { r.DNSNames = append(r.DNSNames, names...) }
}

// WithIP adds IP addresses.
func WithIP(ips ...string) RequestOption {
	return func(t testing.TB, r *x509.CertificateRequest) {
		for _, s := range ips {
			ip := net.ParseIP(s)
			if ip == nil {
				t.Fatalf("testkit: %q is not an IP address", s)
			}
			r.IPAddresses = append(r.IPAddresses, ip)
		}
	}
}

// WithURI adds URIs.
func WithURI(uris ...string) RequestOption {
	return func(t testing.TB, r *x509.CertificateRequest) {
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatalf("testkit: %v", err)
			}
			r.URIs = append(r.URIs, u)
		}
	}
}

// WithEmail adds email addresses.
func WithEmail(addrs ...string) RequestOption {
	return func(_ testing.TB, r *x509.CertificateRequest) { r.EmailAddresses = append(r.EmailAddresses, addrs...) }
}

// WithSignatureAlgorithm sets the algorithm the request is signed with.
func WithSignatureAlgorithm(alg x509.SignatureAlgorithm) RequestOption {
	return func(_ testing.TB, r *x509.CertificateRequest) { r.SignatureAlgorithm = alg }
}

// RequestDER signs tmpl with key and returns the DER request.
func RequestDER(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("testkit: create certificate request: %v", err)
	}
	return der
}

// RequestPEM signs tmpl with key and returns the request as a CERTIFICATE REQUEST block.
func RequestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return PEM(RequestBlock, RequestDER(t, key, tmpl))
}

// NewRequest signs tmpl with key and returns the request parsed and as PEM.
func NewRequest(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) (*x509.CertificateRequest, []byte) {
	t.Helper()
	der := RequestDER(t, key, tmpl)
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("testkit: parse certificate request: %v", err)
	}
	return req, PEM(RequestBlock, der)
}

// ClientRequestPEM is a request for CN cn and opts, signed by a new P-256 key: the
// request most tests need and whose key they never use.
func ClientRequestPEM(t testing.TB, cn string, opts ...RequestOption) []byte {
	t.Helper()
	return RequestPEM(t, NewKey(t, P256), Request(t, cn, opts...))
}

// ParsedRequest is tmpl signed by a new P-256 key and parsed, as code that checks a
// decoded request sees it.
func ParsedRequest(t testing.TB, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	req, _ := NewRequest(t, NewKey(t, P256), tmpl)
	return req
}
