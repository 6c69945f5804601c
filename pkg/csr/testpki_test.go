package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"testing"
)

// Test PKI: keys and requests are generated in each test, never committed.

func newECDSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newRSAKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newEd25519Key(t testing.TB) crypto.Signer {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// requestDER returns a DER-encoded PKCS#10 request for tmpl signed by key.
func requestDER(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// requestPEM returns a PEM-encoded PKCS#10 request for tmpl signed by key.
func requestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: RequestBlockType, Bytes: requestDER(t, key, tmpl)})
}

// request returns the parsed form of a request for tmpl, as the signer checks see it.
func request(t testing.TB, tmpl *x509.CertificateRequest) *x509.CertificateRequest {
	t.Helper()
	req, err := x509.ParseCertificateRequest(requestDER(t, newECDSAKey(t), tmpl))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// requestTemplate is a builder for request templates: a subject plus options.
func requestTemplate(cn string, orgs []string, opts ...func(*x509.CertificateRequest)) *x509.CertificateRequest {
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}}
	for _, o := range opts {
		o(tmpl)
	}
	return tmpl
}

func withDNS(names ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) { r.DNSNames = append(r.DNSNames, names...) }
}

func withIP(ips ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) {
		for _, ip := range ips {
			r.IPAddresses = append(r.IPAddresses, net.ParseIP(ip))
		}
	}
}

func withEmail(addrs ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) { r.EmailAddresses = append(r.EmailAddresses, addrs...) }
}

func withURI(t testing.TB, uris ...string) func(*x509.CertificateRequest) {
	return func(r *x509.CertificateRequest) {
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			r.URIs = append(r.URIs, u)
		}
	}
}

// errString returns err's text, or "" for nil, so that cases can compare exact texts.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
