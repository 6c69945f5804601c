package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"
)

// Epoch is the fixed "now" of tests. NewCA's certificates are valid from a day before it
// until ten years after it.
var Epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// KeyType names a key algorithm.
type KeyType string

// The key types kcsr supports for CAs and requests, and the weak ones it must refuse.
const (
	P256    KeyType = "P-256"
	P384    KeyType = "P-384"
	RSA2048 KeyType = "RSA-2048"
	Ed25519 KeyType = "Ed25519"

	P224    KeyType = "P-224"
	P521    KeyType = "P-521"
	RSA1024 KeyType = "RSA-1024"
)

var sharedKeys sync.Map // KeyType → crypto.Signer

// SharedKey returns the key of type kt shared by every test of the binary, generated on
// first use: for tests that need an RSA key (slow to generate) but not a fresh one.
func SharedKey(t testing.TB, kt KeyType) crypto.Signer {
	t.Helper()
	if key, ok := sharedKeys.Load(kt); ok {
		return key.(crypto.Signer)
	}
	key, _ := sharedKeys.LoadOrStore(kt, NewKey(t, kt))
	return key.(crypto.Signer)
}

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
	case P224:
		key, err = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case P521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case RSA1024:
		key, err = rsa.GenerateKey(rand.Reader, 1024)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("testkit: unknown key type %q", kt)
	}
	if err != nil {
		t.Fatalf("testkit: generate %s key: %v", kt, err)
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
		t.Fatalf("testkit: issue certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testkit: parse certificate: %v", err)
	}
	return cert
}

// ChainPEM returns the chain as concatenated PEM blocks, the CA first.
func (c *CA) ChainPEM() []byte {
	var out []byte
	for _, cert := range c.Chain {
		out = append(out, CertPEM(cert)...)
	}
	return out
}

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
		t.Fatalf("testkit: create CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testkit: parse CA certificate: %v", err)
	}
	chain := []*x509.Certificate{cert}
	if parent != nil {
		chain = append(chain, parent.Chain...)
	}
	return &CA{Cert: cert, Key: key, Chain: chain, CertPEM: CertPEM(cert), KeyPEM: KeyPEM(t, key)}
}

// Serial returns a random positive serial number.
func Serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testkit: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// Leaf issues a client certificate by c for a new P-256 key: CN cn, keyUsage
// digitalSignature, extKeyUsage clientAuth, valid from an hour before Epoch until a day
// after it. Each mutate function may change the template before it is signed.
func (c *CA) Leaf(t testing.TB, cn string, mutate ...func(*x509.Certificate)) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := NewKey(t, P256)
	tmpl := LeafTemplate(Serial(t), cn, Epoch.Add(-time.Hour), Epoch.Add(24*time.Hour))
	for _, m := range mutate {
		m(tmpl)
	}
	return c.Issue(t, tmpl, key.Public()), key
}

// LeafTemplate is a client certificate template of serial for cn, valid from notBefore
// to notAfter.
func LeafTemplate(serial *big.Int, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// ValidBetween is a template mutator making a certificate valid from notBefore to
// notAfter.
func ValidBetween(notBefore, notAfter time.Time) func(*x509.Certificate) {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter }
}

// SelfSigned signs tmpl with key itself (tmpl is its own issuer) and returns the parsed
// certificate.
func SelfSigned(t testing.TB, key crypto.Signer, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	return (&CA{Cert: tmpl, Key: key}).Issue(t, tmpl, key.Public())
}

// Named is a template mutator setting the subject to CN cn alone.
func Named(cn string) func(*x509.Certificate) {
	return func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: cn} }
}
