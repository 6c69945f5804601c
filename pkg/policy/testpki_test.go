package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"sync"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
)

// Test PKI: keys are generated per test binary run, never committed. RSA keys are slow to
// generate, so each size is generated once and shared by the tests that need it.

func newECDSAKey(t testing.TB, curve elliptic.Curve) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

var rsaKeys sync.Map // bits → *rsa.PrivateKey

func rsaKey(t testing.TB, bits int) crypto.Signer {
	t.Helper()
	if key, ok := rsaKeys.Load(bits); ok {
		return key.(*rsa.PrivateKey)
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	actual, _ := rsaKeys.LoadOrStore(bits, key)
	return actual.(*rsa.PrivateKey)
}

// csrBuilder builds a CertificateSigningRequest with a real PKCS#10 request.
type csrBuilder struct {
	key      crypto.Signer
	tmpl     x509.CertificateRequest
	signer   string
	usages   []certificatesv1.KeyUsage
	expiry   *int32
	username string
	groups   []string
	extra    map[string]certificatesv1.ExtraValue
	uid      string
}

// clientCSR starts a kube-apiserver-client request for CN=cn, O=orgs, from user username
// in groups, with an ECDSA P-256 key.
func clientCSR(t testing.TB, cn string, orgs []string, username string, groups ...string) *csrBuilder {
	return &csrBuilder{
		key:      newECDSAKey(t, elliptic.P256()),
		tmpl:     x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: orgs}},
		signer:   csr.KubeAPIServerClientSignerName,
		usages:   []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		username: username,
		uid:      "uid-" + username,
		groups:   groups,
	}
}

// servingCSR starts a kubelet-serving request from node node with DNS and IP SANs.
func servingCSR(t testing.TB, node string, dns []string, ips ...string) *csrBuilder {
	b := &csrBuilder{
		key: newECDSAKey(t, elliptic.P256()),
		tmpl: x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
			DNSNames: dns,
		},
		signer:   csr.KubeletServingSignerName,
		usages:   []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		username: "system:node:" + node,
		uid:      "uid-" + node,
		groups:   []string{"system:nodes", "system:authenticated"},
	}
	for _, ip := range ips {
		b.tmpl.IPAddresses = append(b.tmpl.IPAddresses, net.ParseIP(ip))
	}
	return b
}

func (b *csrBuilder) withKey(key crypto.Signer) *csrBuilder { b.key = key; return b }

func (b *csrBuilder) withSignatureAlgorithm(alg x509.SignatureAlgorithm) *csrBuilder {
	b.tmpl.SignatureAlgorithm = alg
	return b
}

func (b *csrBuilder) withExpiry(seconds int32) *csrBuilder { b.expiry = &seconds; return b }

func (b *csrBuilder) withSigner(name string) *csrBuilder { b.signer = name; return b }

func (b *csrBuilder) withExtra(key string, values ...string) *csrBuilder {
	if b.extra == nil {
		b.extra = map[string]certificatesv1.ExtraValue{}
	}
	b.extra[key] = values
	return b
}

// pemRequest PEM-encodes a DER request.
func pemRequest(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: csr.RequestBlockType, Bytes: der})
}

// object returns the CSR object.
func (b *csrBuilder) object(t testing.TB) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &b.tmpl, b.key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		Request:           pemRequest(der),
		SignerName:        b.signer,
		Usages:            b.usages,
		ExpirationSeconds: b.expiry,
		Username:          b.username,
		UID:               b.uid,
		Groups:            b.groups,
		Extra:             b.extra,
	}}
}

// request returns the decoded request, as the approver builds it.
func (b *csrBuilder) request(t testing.TB) *Request {
	t.Helper()
	r, err := NewRequest(b.object(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustCompile compiles a policy that the test expects to be valid.
func mustCompile(t testing.TB, name string, spec PolicySpec) *Policy {
	t.Helper()
	p, err := Compile(name, spec)
	if err != nil {
		t.Fatalf("Compile(%q): %v", name, err)
	}
	return p
}
