package file_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	cafile "kcsr.dev/kcsr/pkg/ca/file"
	"kcsr.dev/kcsr/pkg/testkit"
)

func sec1(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func pkcs1(key crypto.Signer) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))})
}

func TestLoad(t *testing.T) {
	p256 := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	rsaCA := testkit.NewCA(t, testkit.NewKey(t, testkit.RSA2048))
	edCA := testkit.NewCA(t, testkit.NewKey(t, testkit.Ed25519))
	inter := p256.NewIntermediate(t, testkit.NewKey(t, testkit.P384))
	inter2 := inter.NewIntermediate(t, testkit.NewKey(t, testkit.Ed25519))
	notCA := testkit.NewCA(t, p256.Key, func(c *x509.Certificate) { c.IsCA = false; c.KeyUsage = x509.KeyUsageDigitalSignature })
	noCertSign := testkit.NewCA(t, p256.Key, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature })
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n")
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0, 0, 0}}) // placeholders, no key
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte{0, 0, 0}})

	tests := []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		keyMode os.FileMode // 0600 when zero
		now     time.Time   // testkit.Epoch when zero
		noCert  bool
		noKey   bool
		want    *testkit.CA
		// wantChain is what Chain returns; want.Chain when nil.
		wantChain []*x509.Certificate
		wantIs    error
		wantErr   string // {cert} and {key} stand for the file paths
	}{
		{name: "ECDSA P-256, PKCS#8", certPEM: p256.CertPEM, keyPEM: p256.KeyPEM, want: p256},
		{name: "ECDSA P-256, SEC 1", certPEM: p256.CertPEM, keyPEM: sec1(t, p256.Key), want: p256},
		{name: "ECDSA P-256, SEC 1 after EC PARAMETERS", certPEM: p256.CertPEM, keyPEM: append(ecParams, sec1(t, p256.Key)...), want: p256},
		{name: "RSA, PKCS#1", certPEM: rsaCA.CertPEM, keyPEM: pkcs1(rsaCA.Key), want: rsaCA},
		{name: "RSA, PKCS#8", certPEM: rsaCA.CertPEM, keyPEM: rsaCA.KeyPEM, want: rsaCA},
		{name: "Ed25519, PKCS#8", certPEM: edCA.CertPEM, keyPEM: edCA.KeyPEM, want: edCA},
		{name: "intermediate followed by its root", certPEM: inter.ChainPEM(), keyPEM: inter.KeyPEM, want: inter, wantChain: []*x509.Certificate{inter.Cert}},
		{name: "intermediate alone", certPEM: inter.CertPEM, keyPEM: inter.KeyPEM, want: inter, wantChain: []*x509.Certificate{inter.Cert}},
		{name: "two intermediates and the root", certPEM: inter2.ChainPEM(), keyPEM: inter2.KeyPEM, want: inter2, wantChain: []*x509.Certificate{inter2.Cert, inter.Cert}},
		{name: "read-only key", certPEM: p256.CertPEM, keyPEM: p256.KeyPEM, keyMode: 0o400, want: p256},
		{
			name: "key readable by group", certPEM: p256.CertPEM, keyPEM: p256.KeyPEM, keyMode: 0o640,
			wantErr: "CA key file {key} is readable by group or others (mode 0640); run: chmod 600 {key}",
		},
		{
			name: "key readable by everyone", certPEM: p256.CertPEM, keyPEM: p256.KeyPEM, keyMode: 0o604,
			wantErr: "CA key file {key} is readable by group or others (mode 0604); run: chmod 600 {key}",
		},
		{
			name: "no certificate file", noCert: true, keyPEM: p256.KeyPEM,
			wantErr: "read the CA certificate: open {cert}: no such file or directory",
		},
		{
			name: "no key file", certPEM: p256.CertPEM, noKey: true,
			wantErr: "read the CA key: open {key}: no such file or directory",
		},
		{
			name: "empty certificate file", certPEM: []byte{}, keyPEM: p256.KeyPEM,
			wantErr: "CA certificate file {cert}: no CERTIFICATE PEM block found; give the certificate in PEM form (-----BEGIN CERTIFICATE-----)",
		},
		{
			name: "empty key file", certPEM: p256.CertPEM, keyPEM: []byte{},
			wantErr: "CA key file {key}: no PEM private key found; give an unencrypted PEM key (a PEM block of type PRIVATE KEY)",
		},
		{
			name: "files swapped", certPEM: p256.KeyPEM, keyPEM: p256.CertPEM,
			wantErr: `CA certificate file {cert}: PEM block 1 is a "PRIVATE KEY"; the file must hold only CERTIFICATE blocks (keep the key in its own file)`,
		},
		{
			name: "certificate as the key", certPEM: p256.CertPEM, keyPEM: p256.CertPEM,
			wantErr: "CA key file {key}: the key file holds a certificate; were the certificate and key files swapped?",
		},
		{
			name: "encrypted PKCS#8 key", certPEM: p256.CertPEM, keyPEM: encrypted,
			wantErr: "CA key file {key}: the key is encrypted; give it unencrypted, protected by mode 0600 (openssl pkey -in KEY -out KEY.new), or keep it in an HSM with the pkcs11 backend",
		},
		{
			name: "encrypted legacy PEM key", certPEM: rsaCA.CertPEM, keyPEM: legacyEncrypted,
			wantErr: "CA key file {key}: the key is encrypted; give it unencrypted, protected by mode 0600 (openssl pkey -in KEY -out KEY.new), or keep it in an HSM with the pkcs11 backend",
		},
		{
			name: "public key as the key", certPEM: p256.CertPEM, keyPEM: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
			wantErr: `CA key file {key}: PEM block "PUBLIC KEY" is not a private key; give a PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block`,
		},
		{
			name: "key of another CA", certPEM: p256.CertPEM, keyPEM: rsaCA.KeyPEM, wantIs: ca.ErrKeyMismatch,
			wantErr: `CA {cert} with key {key}: the CA key does not match the CA certificate (the certificate "CN=kcsr test CA,O=kcsr tests" is for an ECDSA P-256 key, the key is an RSA 2048 key); use the key the certificate was issued for, or the certificate issued for this key`,
		},
		{
			name: "intermediate with the root's key", certPEM: inter.ChainPEM(), keyPEM: p256.KeyPEM, wantIs: ca.ErrKeyMismatch,
			wantErr: `CA {cert} with key {key}: the CA key does not match the CA certificate (the certificate "CN=kcsr test intermediate CA,O=kcsr tests" is for an ECDSA P-384 key, the key is an ECDSA P-256 key); use the key the certificate was issued for, or the certificate issued for this key`,
		},
		{
			name: "expired CA", certPEM: p256.CertPEM, keyPEM: p256.KeyPEM, now: p256.Cert.NotAfter.Add(time.Hour), wantIs: ca.ErrExpired,
			wantErr: `CA {cert} with key {key}: the CA has expired: the CA certificate "CN=kcsr test CA,O=kcsr tests" expired at 2040-05-29T12:00:00Z (it is now 2040-05-29T13:00:00Z); renew the CA and configure the new certificate and key`,
		},
		{
			name: "not a CA", certPEM: notCA.CertPEM, keyPEM: p256.KeyPEM, wantIs: ca.ErrNotCA,
			wantErr: `CA {cert} with key {key}: the CA certificate is not a CA certificate: "CN=kcsr test CA,O=kcsr tests" lacks basicConstraints CA:TRUE; use a CA certificate, or reissue it with basicConstraints=critical,CA:TRUE`,
		},
		{
			name: "no cert-sign usage", certPEM: noCertSign.CertPEM, keyPEM: p256.KeyPEM, wantIs: ca.ErrNoCertSign,
			wantErr: `CA {cert} with key {key}: the CA certificate does not allow certificate signing: the keyUsage of "CN=kcsr test CA,O=kcsr tests" lacks keyCertSign; reissue it with keyUsage=critical,keyCertSign,cRLSign`,
		},
		{
			name: "issuer before the CA", certPEM: append(append([]byte{}, p256.CertPEM...), inter.CertPEM...), keyPEM: p256.KeyPEM, wantIs: ca.ErrChainOrder,
			wantErr: `CA {cert} with key {key}: the CA certificate chain is out of order: certificate 1 ("CN=kcsr test CA,O=kcsr tests") is not issued by certificate 2 ("CN=kcsr test intermediate CA,O=kcsr tests"): x509: ECDSA verification failure; list the CA certificate first, then its issuer, then the issuer's issuer`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
			if !tt.noCert {
				if err := os.WriteFile(certFile, tt.certPEM, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if !tt.noKey {
				mode := tt.keyMode
				if mode == 0 {
					mode = 0o600
				}
				if err := os.WriteFile(keyFile, tt.keyPEM, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(keyFile, mode); err != nil {
					t.Fatal(err)
				}
			}
			now := tt.now
			if now.IsZero() {
				now = testkit.Epoch
			}

			b, err := cafile.Load(context.Background(), certFile, keyFile, now)

			wantErr := strings.NewReplacer("{cert}", certFile, "{key}", keyFile).Replace(tt.wantErr)
			if !testkit.ExpectError(t, err, wantErr) {
				t.FailNow()
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Load() error is not %v", tt.wantIs)
			}
			if err != nil {
				return
			}
			defer b.Close()
			chain, err := b.Chain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			wantChain := tt.wantChain
			if wantChain == nil {
				wantChain = tt.want.Chain
			}
			if len(chain) != len(wantChain) {
				t.Fatalf("Chain() has %d certificates, want %d", len(chain), len(wantChain))
			}
			for i := range chain {
				if !chain[i].Equal(wantChain[i]) {
					t.Errorf("Chain()[%d] = %q, want %q", i, chain[i].Subject, wantChain[i].Subject)
				}
			}
			signer, err := b.Signer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want.Key.Public()) {
				t.Error("Signer() is not the CA key")
			}
		})
	}
}

func TestClose(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	certFile := testkit.WriteFile(t, "ca.crt", c.CertPEM, 0o644)
	keyFile := testkit.WriteFile(t, "ca.key", c.KeyPEM, 0o600)
	b, err := cafile.Load(context.Background(), certFile, keyFile, testkit.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	testkit.ExpectClosed(t, b)
}

func TestLoadCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cafile.Load(ctx, "ca.crt", "ca.key", testkit.Epoch); !errors.Is(err, context.Canceled) {
		t.Errorf("Load() with a canceled context = %v, want %v", err, context.Canceled)
	}
}
