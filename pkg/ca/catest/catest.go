// Package catest builds throw-away PKI for tests: keys of each supported type, CA and
// intermediate certificates, certificate requests, and an in-memory ca.Backend. Everything
// is generated per test; no key is ever committed. It must not be imported outside tests.
package catest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/pki"
)

// Epoch is the fixed "now" of tests. NewCA's certificates are valid from a day before it
// until ten years after it.
var Epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// KeyType names a key algorithm.
type KeyType string

// The key types kcsr supports for CAs and requests.
const (
	P256    KeyType = "P-256"
	P384    KeyType = "P-384"
	RSA2048 KeyType = "RSA-2048"
	Ed25519 KeyType = "Ed25519"
)

// NewKey generates a key of type kt.
func NewKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	var (
		key crypto.Signer
		err error
	)
	switch kt {
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("catest: unknown key type %q", kt)
	}
	if err != nil {
		t.Fatalf("catest: generate %s key: %v", kt, err)
	}
	return key
}

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is Cert followed by the certificates that issued it up to the root (for an
	// intermediate).
	Chain []*x509.Certificate
	// CertPEM is Cert alone; KeyPEM is Key in PKCS#8.
	CertPEM, KeyPEM []byte
}

// NewCA returns a self-signed CA for key: CN "kcsr test CA", basicConstraints CA:TRUE,
// keyUsage keyCertSign|cRLSign|digitalSignature, valid from Epoch-24h to Epoch+10y. Each
// mutate function may change the template before it is signed.
func NewCA(t testing.TB, key crypto.Signer, mutate ...func(*x509.Certificate)) *CA {
	t.Helper()
	tmpl := caTemplate(t, "kcsr test CA")
	for _, m := range mutate {
		m(tmpl)
	}
	return issue(t, tmpl, key, nil)
}

// NewIntermediate returns a CA for key issued by c, with the defaults of NewCA.
func (c *CA) NewIntermediate(t testing.TB, key crypto.Signer, mutate ...func(*x509.Certificate)) *CA {
	t.Helper()
	tmpl := caTemplate(t, "kcsr test intermediate CA")
	for _, m := range mutate {
		m(tmpl)
	}
	return issue(t, tmpl, key, c)
}

// Issue signs tmpl (a leaf or anything else) for pub with c, returning the parsed
// certificate.
func (c *CA) Issue(t testing.TB, tmpl *x509.Certificate, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, pub, c.Key)
	if err != nil {
		t.Fatalf("catest: issue certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("catest: parse certificate: %v", err)
	}
	return cert
}

// ChainPEM returns the chain as concatenated PEM blocks, the CA first.
func (c *CA) ChainPEM() []byte {
	var out []byte
	for _, cert := range c.Chain {
		out = append(out, pki.EncodeCert(cert.Raw)...)
	}
	return out
}

// Backend returns an in-memory ca.Backend for c, whose Chain leaves the root out as
// backends do.
func (c *CA) Backend() *Static { return &Static{ChainCerts: ca.TrimRoot(c.Chain), Key: c.Key} }

func caTemplate(t testing.TB, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          Serial(t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"kcsr tests"}},
		NotBefore:             Epoch.Add(-24 * time.Hour),
		NotAfter:              Epoch.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
}

func issue(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *CA) *CA {
	t.Helper()
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatalf("catest: create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("catest: parse CA certificate: %v", err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatalf("catest: %v", err)
	}
	chain := []*x509.Certificate{cert}
	if parent != nil {
		chain = append(chain, parent.Chain...)
	}
	return &CA{Cert: cert, Key: key, Chain: chain, CertPEM: pki.EncodeCert(der), KeyPEM: keyPEM}
}

// Serial returns a random positive serial number.
func Serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("catest: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// NewRequest signs a PKCS#10 request from tmpl with key and returns it parsed and as PEM.
func NewRequest(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) (*x509.CertificateRequest, []byte) {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("catest: create certificate request: %v", err)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatalf("catest: parse certificate request: %v", err)
	}
	return req, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// WriteFile writes data to name in a new temporary directory of t with mode perm and
// returns its path.
func WriteFile(t testing.TB, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; tests mean the mode they ask for.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// Static is an in-memory ca.Backend.
type Static struct {
	ChainCerts []*x509.Certificate
	Key        crypto.Signer
	// ChainErr and SignerErr, when set, are returned by Chain and Signer.
	ChainErr, SignerErr error
	closed              atomic.Int32
}

var _ ca.Backend = (*Static)(nil)

// Chain returns s.ChainCerts.
func (s *Static) Chain(context.Context) ([]*x509.Certificate, error) {
	return s.ChainCerts, s.ChainErr
}

// Signer returns s.Key.
func (s *Static) Signer(context.Context) (crypto.Signer, error) {
	if s.SignerErr != nil {
		return nil, s.SignerErr
	}
	return s.Key, nil
}

// Close counts the calls; see Closed.
func (s *Static) Close() error {
	s.closed.Add(1)
	return nil
}

// Closed reports how many times Close was called.
func (s *Static) Closed() int { return int(s.closed.Load()) }
