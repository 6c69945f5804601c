package ca_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/testkit"
)

// lyingSigner claims the certificate's public key but signs with another key, as an HSM
// whose public and private objects do not belong together would.
type lyingSigner struct {
	pub crypto.PublicKey
	crypto.Signer
}

func (s lyingSigner) Public() crypto.PublicKey { return s.pub }

// failingSigner cannot sign, as a token that refuses CKA_SIGN would.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("CKR_KEY_FUNCTION_NOT_PERMITTED")
}

func TestCheck(t *testing.T) {
	p256 := testkit.NewKey(t, testkit.P256)
	root := testkit.NewCA(t, p256)
	rsaCA := testkit.NewCA(t, testkit.NewKey(t, testkit.RSA2048))
	edCA := testkit.NewCA(t, testkit.NewKey(t, testkit.Ed25519))
	interKey := testkit.NewKey(t, testkit.P256)
	inter := root.NewIntermediate(t, interKey)
	otherRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	now := testkit.Epoch

	tests := []struct {
		name    string
		backend *testkit.Static
		now     time.Time
		wantIs  error
		wantErr string
	}{
		{name: "ECDSA P-256 root", backend: root.Backend(), now: now},
		{name: "RSA root", backend: rsaCA.Backend(), now: now},
		{name: "Ed25519 root", backend: edCA.Backend(), now: now},
		{name: "intermediate alone", backend: inter.Backend(), now: now},
		{name: "intermediate with its root", backend: &testkit.Static{ChainCerts: inter.Chain, Key: interKey}, now: now},
		{
			name:    "no keyUsage extension is accepted",
			backend: testkit.NewCA(t, p256, func(c *x509.Certificate) { c.KeyUsage = 0 }).Backend(),
			now:     now,
		},
		{
			name:    "first and last instant of validity",
			backend: root.Backend(),
			now:     root.Cert.NotAfter,
		},
		{
			name:    "no certificate",
			backend: &testkit.Static{Key: p256},
			now:     now,
			wantIs:  ca.ErrNoCertificate,
			wantErr: "the CA has no certificate; give the CA certificate (PEM) with the key",
		},
		{
			name:    "chain error",
			backend: &testkit.Static{ChainErr: errors.New("token removed"), Key: p256},
			now:     now,
			wantErr: "read the CA certificate: token removed",
		},
		{
			name:    "signer error",
			backend: &testkit.Static{ChainCerts: root.Chain, SignerErr: errors.New("login failed")},
			now:     now,
			wantErr: "open the CA key: login failed",
		},
		{
			name:    "another key of the same type",
			backend: &testkit.Static{ChainCerts: root.Chain, Key: testkit.NewKey(t, testkit.P256)},
			now:     now,
			wantIs:  ca.ErrKeyMismatch,
			wantErr: `the CA key does not match the CA certificate (the certificate "CN=kcsr test CA,O=kcsr tests" is for an ECDSA P-256 key, the key is an ECDSA P-256 key); use the key the certificate was issued for, or the certificate issued for this key`,
		},
		{
			name:    "a key of another type",
			backend: &testkit.Static{ChainCerts: root.Chain, Key: rsaCA.Key},
			now:     now,
			wantIs:  ca.ErrKeyMismatch,
			wantErr: `the CA key does not match the CA certificate (the certificate "CN=kcsr test CA,O=kcsr tests" is for an ECDSA P-256 key, the key is an RSA 2048 key); use the key the certificate was issued for, or the certificate issued for this key`,
		},
		{
			name:    "public half matches, private half does not",
			backend: &testkit.Static{ChainCerts: root.Chain, Key: lyingSigner{pub: p256.Public(), Signer: interKey}},
			now:     now,
			wantIs:  ca.ErrKeyCannotSign,
			wantErr: "the CA key cannot sign: a test signature failed: the signature does not verify with the certificate's public key; check that the key is the certificate's and is allowed to sign (for an HSM: the PIN, and CKA_SIGN on the private key)",
		},
		{
			name:    "RSA key that does not match its public half",
			backend: &testkit.Static{ChainCerts: rsaCA.Chain, Key: lyingSigner{pub: rsaCA.Key.Public(), Signer: testkit.NewKey(t, testkit.RSA2048)}},
			now:     now,
			wantIs:  ca.ErrKeyCannotSign,
			wantErr: "the CA key cannot sign: a test signature failed: crypto/rsa: verification error; check that the key is the certificate's and is allowed to sign (for an HSM: the PIN, and CKA_SIGN on the private key)",
		},
		{
			name:    "key that refuses to sign",
			backend: &testkit.Static{ChainCerts: root.Chain, Key: failingSigner{p256}},
			now:     now,
			wantIs:  ca.ErrKeyCannotSign,
			wantErr: "the CA key cannot sign: a test signature failed: CKR_KEY_FUNCTION_NOT_PERMITTED; check that the key is the certificate's and is allowed to sign (for an HSM: the PIN, and CKA_SIGN on the private key)",
		},
		{
			name:    "not a CA",
			backend: testkit.NewCA(t, p256, func(c *x509.Certificate) { c.IsCA = false; c.KeyUsage = x509.KeyUsageDigitalSignature }).Backend(),
			now:     now,
			wantIs:  ca.ErrNotCA,
			wantErr: `the CA certificate is not a CA certificate: "CN=kcsr test CA,O=kcsr tests" lacks basicConstraints CA:TRUE; use a CA certificate, or reissue it with basicConstraints=critical,CA:TRUE`,
		},
		{
			name:    "no basicConstraints",
			backend: testkit.NewCA(t, p256, func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = false, false }).Backend(),
			now:     now,
			wantIs:  ca.ErrNotCA,
			wantErr: `the CA certificate is not a CA certificate: "CN=kcsr test CA,O=kcsr tests" lacks basicConstraints CA:TRUE; use a CA certificate, or reissue it with basicConstraints=critical,CA:TRUE`,
		},
		{
			name:    "keyUsage without keyCertSign",
			backend: testkit.NewCA(t, p256, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign }).Backend(),
			now:     now,
			wantIs:  ca.ErrNoCertSign,
			wantErr: `the CA certificate does not allow certificate signing: the keyUsage of "CN=kcsr test CA,O=kcsr tests" lacks keyCertSign; reissue it with keyUsage=critical,keyCertSign,cRLSign`,
		},
		{
			name:    "expired",
			backend: root.Backend(),
			now:     root.Cert.NotAfter.Add(time.Second),
			wantIs:  ca.ErrExpired,
			wantErr: `the CA has expired: the CA certificate "CN=kcsr test CA,O=kcsr tests" expired at 2040-05-29T12:00:00Z (it is now 2040-05-29T12:00:01Z); renew the CA and configure the new certificate and key`,
		},
		{
			name:    "not yet valid",
			backend: root.Backend(),
			now:     root.Cert.NotBefore.Add(-time.Minute),
			wantIs:  ca.ErrNotYetValid,
			wantErr: `the CA is not valid yet: the CA certificate "CN=kcsr test CA,O=kcsr tests" is valid from 2030-05-31T12:00:00Z (it is now 2030-05-31T11:59:00Z); check this machine's clock, or wait until then`,
		},
		{
			name: "expired issuer",
			backend: func() *testkit.Static {
				shortRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) { c.NotAfter = now.Add(time.Hour) })
				return &testkit.Static{ChainCerts: shortRoot.NewIntermediate(t, interKey).Chain, Key: interKey}
			}(),
			now:     now.Add(2 * time.Hour),
			wantIs:  ca.ErrExpired,
			wantErr: `the CA has expired: its issuer "CN=kcsr test CA,O=kcsr tests" (certificate 2 of the chain) expired at 2030-06-01T13:00:00Z (it is now 2030-06-01T14:00:00Z); renew the CA and configure the new certificate and key`,
		},
		{
			name:    "chain out of order",
			backend: &testkit.Static{ChainCerts: []*x509.Certificate{inter.Cert, otherRoot.Cert}, Key: interKey},
			now:     now,
			wantIs:  ca.ErrChainOrder,
			wantErr: `the CA certificate chain is out of order: certificate 1 ("CN=kcsr test intermediate CA,O=kcsr tests") is not issued by certificate 2 ("CN=kcsr test CA,O=kcsr tests"): x509: ECDSA verification failure; list the CA certificate first, then its issuer, then the issuer's issuer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ca.Check(context.Background(), tt.backend, tt.now)
			testkit.ExpectError(t, err, tt.wantErr)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Check() error %v is not %v", err, tt.wantIs)
			}
		})
	}
}
func TestTrimRoot(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter1 := root.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	inter2 := inter1.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	otherRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	// A certificate whose issuer name is its own subject but which is signed by another key.
	fakeRoot := otherRoot.Issue(t, &x509.Certificate{
		SerialNumber: testkit.Serial(t), Subject: otherRoot.Cert.Subject, NotBefore: testkit.Epoch, NotAfter: testkit.Epoch.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, testkit.NewKey(t, testkit.P256).Public())

	tests := []struct {
		name  string
		chain []*x509.Certificate
		want  []*x509.Certificate
	}{
		{name: "empty", chain: nil, want: nil},
		{name: "self-signed CA alone", chain: root.Chain, want: root.Chain},
		{name: "intermediate alone", chain: inter1.Chain[:1], want: inter1.Chain[:1]},
		{name: "intermediate and root", chain: inter1.Chain, want: []*x509.Certificate{inter1.Cert}},
		{name: "two intermediates and root", chain: inter2.Chain, want: []*x509.Certificate{inter2.Cert, inter1.Cert}},
		{name: "two intermediates", chain: inter2.Chain[:2], want: []*x509.Certificate{inter2.Cert, inter1.Cert}},
		{name: "last is not self-signed", chain: []*x509.Certificate{inter2.Cert, fakeRoot}, want: []*x509.Certificate{inter2.Cert, fakeRoot}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ca.TrimRoot(tt.chain)
			if len(got) != len(tt.want) {
				t.Fatalf("TrimRoot() has %d certificates, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if !got[i].Equal(tt.want[i]) {
					t.Errorf("TrimRoot()[%d] = %q, want %q", i, got[i].Subject, tt.want[i].Subject)
				}
			}
		})
	}
}
