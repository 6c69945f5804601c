package doctor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The test PKI is made per test; nothing here is committed key material.

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// requestOpt changes a request template.
type requestOpt func(*x509.CertificateRequest)

func withOrg(o ...string) requestOpt {
	return func(r *x509.CertificateRequest) { r.Subject.Organization = o }
}

func withDNS(n ...string) requestOpt {
	return func(r *x509.CertificateRequest) { r.DNSNames = n }
}

func withIP(ip string) requestOpt {
	return func(r *x509.CertificateRequest) { r.IPAddresses = append(r.IPAddresses, net.ParseIP(ip)) }
}

func requestDER(t testing.TB, key crypto.Signer, cn string, opts ...requestOpt) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}
	for _, o := range opts {
		o(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func requestPEM(t testing.TB, key crypto.Signer, cn string, opts ...requestOpt) []byte {
	t.Helper()
	return pemBlock("CERTIFICATE REQUEST", requestDER(t, key, cn, opts...))
}

func parseRequest(t testing.TB, der []byte) *x509.CertificateRequest {
	t.Helper()
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func keyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

// certificate makes a certificate for pub, signed by parent/parentKey (self-signed when
// parent is nil), with a fixed serial.
func certificate(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, notBefore, notAfter time.Time, ca bool, eku ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0xabc),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func lines(fs []Finding) []string {
	if len(fs) == 0 {
		return nil
	}
	return Report(fs).Lines()
}

func diffLines(t *testing.T, want []string, got []Finding) {
	t.Helper()
	if diff := cmp.Diff(want, lines(got)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
