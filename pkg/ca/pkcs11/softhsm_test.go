//go:build cgo

package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/ca/pkcs11"
	"kcsr.dev/kcsr/pkg/ca/pkcs11/softhsmtest"
	"kcsr.dev/kcsr/pkg/testkit"
)

// open loads a backend and closes it when the test ends.
func open(t *testing.T, cfg pkcs11.Config) *pkcs11.Backend {
	t.Helper()
	b, err := pkcs11.New(context.Background(), cfg, testkit.Epoch)
	if err != nil {
		t.Fatalf("New() error: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// signLeaf signs a leaf certificate with the backend and verifies it against caCert.
func signLeaf(t *testing.T, b ca.Backend, caCert *x509.Certificate) {
	t.Helper()
	signer, err := b.Signer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leafKey := testkit.NewKey(t, testkit.P256)
	// The token's key signs the leaf.
	tokenCA := &testkit.CA{Cert: caCert, Key: signer}
	leaf := tokenCA.Issue(t, testkit.LeafTemplate(testkit.Serial(t), "leaf", testkit.Epoch.Add(-time.Minute), testkit.Epoch.Add(time.Hour)), leafKey.Public())
	roots := x509.NewCertPool()
	roots.AddCert(caCert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testkit.Epoch, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate signed on the token does not verify against the CA certificate: %v", err)
	}
}

// TestSoftHSM2 loads ECDSA and RSA CA keys from a real SoftHSM2 token and signs with them.
func TestSoftHSM2(t *testing.T) {
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.P384, testkit.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			caKey := testkit.NewKey(t, kt)
			c := testkit.NewCA(t, caKey)
			module, uri := softhsmtest.NewToken(t, c.KeyPEM)
			certFile := testkit.WriteFile(t, "ca.crt", c.CertPEM, 0o644)

			b := open(t, pkcs11.Config{ModulePath: module, URI: uri, CertFile: certFile})

			chain, err := b.Chain(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(chain) != 1 || !chain[0].Equal(c.Cert) {
				t.Fatalf("Chain() = %d certificates, want the CA certificate", len(chain))
			}
			signer, err := b.Signer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(caKey.Public()) {
				t.Error("the token's public key is not the imported key's")
			}
			signLeaf(t, b, c.Cert)
		})
	}
}

func TestSoftHSM2URIForms(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	tok := softhsmtest.InitToken(t, "kcsr-test")
	tok.ImportKey(t, c.KeyPEM, "ca", []byte{0x0a, 0x01})
	certFile := testkit.WriteFile(t, "ca.crt", c.CertPEM, 0o644)
	pinSource := "?pin-source=file:" + tok.PINFile

	tests := []struct {
		name string
		cfg  pkcs11.Config
		env  string
	}{
		{name: "label only", cfg: pkcs11.Config{ModulePath: tok.ModulePath, URI: "pkcs11:token=kcsr-test;object=ca" + pinSource}},
		{name: "id only", cfg: pkcs11.Config{ModulePath: tok.ModulePath, URI: "pkcs11:token=kcsr-test;id=%0A%01" + pinSource}},
		{name: "type=private", cfg: pkcs11.Config{ModulePath: tok.ModulePath, URI: "pkcs11:token=kcsr-test;object=ca;type=private" + pinSource}},
		{name: "module-path in the URI only", cfg: pkcs11.Config{URI: "pkcs11:token=kcsr-test;object=ca" + pinSource + "&module-path=" + tok.ModulePath}},
		{name: "module in both, the same", cfg: pkcs11.Config{ModulePath: tok.ModulePath, URI: "pkcs11:token=kcsr-test;object=ca" + pinSource + "&module-path=" + tok.ModulePath}},
		{name: "PIN from the environment", cfg: pkcs11.Config{ModulePath: tok.ModulePath, URI: "pkcs11:token=kcsr-test;object=ca"}, env: softhsmtest.UserPIN},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(pkcs11.PINEnv, tt.env)
			tt.cfg.CertFile = certFile
			b := open(t, tt.cfg)
			signLeaf(t, b, c.Cert)
		})
	}
}

// TestSoftHSM2CertificateOnToken reads the CA certificate from the token when no
// certificate file is given.
func TestSoftHSM2CertificateOnToken(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	module, uri := softhsmtest.NewToken(t, c.KeyPEM)
	importCertificate(t, module, c.Cert, []byte{0x01}, "ca")

	b := open(t, pkcs11.Config{ModulePath: module, URI: uri})
	chain, err := b.Chain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 1 || !chain[0].Equal(c.Cert) {
		t.Fatalf("Chain() = %v, want the certificate on the token", chain)
	}
	signLeaf(t, b, c.Cert)
}

// importCertificate puts cert on the token of SOFTHSM2_CONF, as an HSM administrator would.
func importCertificate(t *testing.T, module string, cert *x509.Certificate, id []byte, label string) {
	t.Helper()
	c11, err := crypto11.Configure(&crypto11.Config{Path: module, TokenLabel: "kcsr-test", Pin: softhsmtest.UserPIN})
	if err != nil {
		t.Fatal(err)
	}
	defer c11.Close()
	if err := c11.ImportCertificateWithLabel(id, []byte(label), cert); err != nil {
		t.Fatal(err)
	}
}

// TestSoftHSM2Intermediate loads an intermediate CA whose certificate file holds its root.
func TestSoftHSM2Intermediate(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter := root.NewIntermediate(t, testkit.NewKey(t, testkit.RSA2048))
	module, uri := softhsmtest.NewToken(t, inter.KeyPEM)
	certFile := testkit.WriteFile(t, "ca.crt", inter.ChainPEM(), 0o644)

	b := open(t, pkcs11.Config{ModulePath: module, URI: uri, CertFile: certFile})
	chain, err := b.Chain(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 1 || !chain[0].Equal(inter.Cert) {
		t.Fatalf("Chain() has %d certificates, want the intermediate alone (the root left out)", len(chain))
	}
	signLeaf(t, b, inter.Cert)
}

func TestSoftHSM2Errors(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	expiring := testkit.NewCA(t, c.Key, func(x *x509.Certificate) { x.NotAfter = testkit.Epoch.Add(-time.Hour) })
	tok := softhsmtest.InitToken(t, "kcsr-test")
	tok.ImportKey(t, c.KeyPEM, "ca", []byte{0x01})
	tok.ImportKey(t, other.KeyPEM, "twin", []byte{0x02})
	tok.ImportKey(t, testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).KeyPEM, "twin", []byte{0x03})
	module := tok.ModulePath
	certFile := testkit.WriteFile(t, "ca.crt", c.CertPEM, 0o644)
	otherCert := testkit.WriteFile(t, "other.crt", other.CertPEM, 0o644)
	expiredCert := testkit.WriteFile(t, "expired.crt", expiring.CertPEM, 0o644)
	badPIN := testkit.WriteFile(t, "bad.pin", []byte("9999\n"), 0o600)
	loosePIN := testkit.WriteFile(t, "loose.pin", []byte(softhsmtest.UserPIN), 0o644)
	pin := "?pin-source=file:" + tok.PINFile

	tests := []struct {
		name    string
		cfg     pkcs11.Config
		wantIs  error
		wantErr string // {module} and {cert}, {other}, {expired}, {bad}, {loose} stand for paths
	}{
		{
			name:    "wrong PIN",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca?pin-source=file:" + badPIN, CertFile: certFile},
			wantErr: `pkcs11: token "kcsr-test" refused the PIN (CKR_PIN_INCORRECT); check the pin-source file or KCSR_PKCS11_PIN (repeated failures may lock the PIN)`,
		},
		{
			name:    "PIN file readable by others",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca?pin-source=file:" + loosePIN, CertFile: certFile},
			wantErr: "pkcs11: PIN file {loose} is readable by group or others (mode 0644); run: chmod 600 {loose}",
		},
		{
			name:    "no PIN",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca", CertFile: certFile},
			wantErr: "pkcs11: no PIN: add ?pin-source=file:/path/to/pin to the URI (a file only kcsr can read, chmod 600), or set the KCSR_PKCS11_PIN environment variable",
		},
		{
			name:    "PIN in the URI",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca?pin-value=1234", CertFile: certFile},
			wantIs:  pkcs11.ErrPINValue,
			wantErr: pkcs11.ErrPINValue.Error(),
		},
		{
			name:    "no such key",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=nope" + pin, CertFile: certFile},
			wantErr: `pkcs11: no key pair object="nope" on token "kcsr-test"; list the token's objects with: pkcs11-tool --module {module} --login --list-objects`,
		},
		{
			name:    "two keys match",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=twin" + pin, CertFile: otherCert},
			wantErr: `pkcs11: 2 keys on token "kcsr-test" match object="twin"; add id= or object= to the URI so that it selects one`,
		},
		{
			name:    "id written as hex text",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;id=01" + pin, CertFile: certFile},
			wantErr: `pkcs11: no key pair id=%30%31 on token "kcsr-test" (id= is percent-encoded bytes: id=01 is the 2 characters "01"; for the bytes 0x01 write id=%01); list the token's objects with: pkcs11-tool --module {module} --login --list-objects`,
		},
		{
			name:    "no such token",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=other;object=ca" + pin, CertFile: certFile},
			wantErr: `pkcs11: module {module} has no token "other"; list its tokens (softhsm2-util --show-slots, or pkcs11-tool --module {module} --list-token-slots) and fix the URI`,
		},
		{
			name:    "no token selected",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11 URI: no token selected; add token= (the token label), serial= or slot-id=",
		},
		{
			name:    "two token selectors",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;slot-id=0;object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11 URI: token=, slot-id= all select the token; keep only one",
		},
		{
			name:    "unsupported token attribute",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;manufacturer=SoftHSM%20project;object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11 URI: manufacturer= is not supported for selecting the token; select it with token=, serial= or slot-id= only",
		},
		{
			name:    "no key selected",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test" + pin, CertFile: certFile},
			wantErr: "pkcs11 URI: no key selected; add object= (the key's label), id= (its CKA_ID, e.g. id=%01) or both",
		},
		{
			name:    "certificate object",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca;type=cert" + pin, CertFile: certFile},
			wantErr: "pkcs11 URI: type=cert does not select a private key; write type=private or leave type out",
		},
		{
			name:    "no module",
			cfg:     pkcs11.Config{URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11: no PKCS#11 module; set modulePath or add module-path= to the URI (for SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)",
		},
		{
			name:    "module by name",
			cfg:     pkcs11.Config{URI: "pkcs11:token=kcsr-test;object=ca" + pin + "&module-name=softhsm2", CertFile: certFile},
			wantErr: "pkcs11: module-name=softhsm2 is not supported; give the module's absolute path as modulePath or module-path= in the URI",
		},
		{
			name:    "relative module path",
			cfg:     pkcs11.Config{ModulePath: "libsofthsm2.so", URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11: module libsofthsm2.so is not an absolute path; give the module's absolute path, so that no library search path decides which code handles the PIN",
		},
		{
			name:    "missing module",
			cfg:     pkcs11.Config{ModulePath: "/nonexistent/libpkcs11.so", URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: certFile},
			wantErr: "pkcs11: module: stat /nonexistent/libpkcs11.so: no such file or directory; install the HSM vendor's PKCS#11 library or fix the module path",
		},
		{
			name:    "two different modules",
			cfg:     pkcs11.Config{ModulePath: "/opt/hsm/lib.so", URI: "pkcs11:token=kcsr-test;object=ca" + pin + "&module-path=" + module, CertFile: certFile},
			wantErr: "pkcs11: modulePath /opt/hsm/lib.so and the URI's module-path {module} differ; give the module once",
		},
		{
			name:    "missing certificate file",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: "/nonexistent/ca.crt"},
			wantErr: "pkcs11: read the CA certificate: open /nonexistent/ca.crt: no such file or directory",
		},
		{
			name:    "no certificate on the token",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca" + pin},
			wantErr: `pkcs11: the token has no certificate object for object="ca"; set certFile to the CA certificate (PEM), or import it to the token with the key's id and label`,
		},
		{
			name:    "certificate of another key",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: otherCert},
			wantIs:  ca.ErrKeyMismatch,
			wantErr: `pkcs11: CA {other} with key object="ca": the CA key does not match the CA certificate (the certificate "CN=kcsr test CA,O=kcsr tests" is for an ECDSA P-256 key, the key is an ECDSA P-256 key); use the key the certificate was issued for, or the certificate issued for this key`,
		},
		{
			name:    "expired CA",
			cfg:     pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: expiredCert},
			wantIs:  ca.ErrExpired,
			wantErr: `pkcs11: CA {expired} with key object="ca": the CA has expired: the CA certificate "CN=kcsr test CA,O=kcsr tests" expired at 2030-06-01T11:00:00Z (it is now 2030-06-01T12:00:00Z); renew the CA and configure the new certificate and key`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(pkcs11.PINEnv, "")
			b, err := pkcs11.New(context.Background(), tt.cfg, testkit.Epoch)
			if err == nil {
				b.Close()
				t.Fatal("New() succeeded, want an error")
			}
			want := strings.NewReplacer("{module}", module, "{other}", otherCert, "{expired}", expiredCert, "{bad}", badPIN, "{loose}", loosePIN).Replace(tt.wantErr)
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("New() error (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("New() error is not %v", tt.wantIs)
			}
		})
	}
	// After all these failures the token still works: nothing locked it, nothing leaked.
	t.Run("still usable", func(t *testing.T) {
		b := open(t, pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=ca" + pin, CertFile: certFile})
		signLeaf(t, b, c.Cert)
		b = open(t, pkcs11.Config{ModulePath: module, URI: "pkcs11:token=kcsr-test;object=twin;id=%02" + pin, CertFile: otherCert})
		signLeaf(t, b, other.Cert)
	})
}

// TestSoftHSM2Lifecycle: Close twice, use after Close, a canceled context, two backends
// on one token, and signatures from many goroutines at once.
func TestSoftHSM2Lifecycle(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	module, uri := softhsmtest.NewToken(t, c.KeyPEM)
	certFile := testkit.WriteFile(t, "ca.crt", c.CertPEM, 0o644)
	cfg := pkcs11.Config{ModulePath: module, URI: uri, CertFile: certFile}

	t.Run("two backends on one token, signing concurrently", func(t *testing.T) {
		b1, b2 := open(t, cfg), open(t, cfg)
		var wg sync.WaitGroup
		for i := range 8 {
			b := b1
			if i%2 == 1 {
				b = b2
			}
			wg.Go(func() { signLeaf(t, b, c.Cert) })
		}
		wg.Wait()
		if err := b1.Close(); err != nil {
			t.Fatal(err)
		}
		signLeaf(t, b2, c.Cert) // closing one leaves the other working
	})

	t.Run("canceled context", func(t *testing.T) {
		b := open(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		signer, err := b.Signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if _, err := signer.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, context.Canceled) {
			t.Errorf("Sign() after cancel = %v, want %v", err, context.Canceled)
		}
		if _, err := pkcs11.New(ctx, cfg, testkit.Epoch); !errors.Is(err, context.Canceled) {
			t.Errorf("New() with a canceled context = %v, want %v", err, context.Canceled)
		}
	})

	t.Run("close", func(t *testing.T) {
		b := open(t, cfg)
		signer, err := b.Signer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		testkit.ExpectClosed(t, b)
		if _, err := signer.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, ca.ErrClosed) {
			t.Errorf("Sign() after Close() = %v, want %v", err, ca.ErrClosed)
		}
	})
}

// TestSoftHSMTestTokens: the helper's URI, its PIN file, and a second token in one test.
func TestSoftHSMTestTokens(t *testing.T) {
	c1 := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	c2 := testkit.NewCA(t, testkit.NewKey(t, testkit.RSA2048))
	module, uri1 := softhsmtest.NewToken(t, c1.KeyPEM)
	_, uri2 := softhsmtest.NewToken(t, c2.KeyPEM)

	u, err := pkcs11.ParseURI(uri1)
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "kcsr-test" || u.Object != "ca" || string(u.ID) != "\x01" || u.ModulePath != module {
		t.Errorf("NewToken() URI = %s", uri1)
	}
	pinFile := strings.TrimPrefix(u.PINSource, "file:")
	if fi, err := os.Stat(pinFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("PIN file %s: %v, mode %v; want mode 0600", pinFile, err, fi.Mode().Perm())
	}
	if !strings.HasPrefix(pinFile, os.TempDir()) || filepath.Base(pinFile) != "pin" {
		t.Errorf("PIN file %s is not in the test's temporary directory", pinFile)
	}
	if !strings.HasPrefix(uri2, "pkcs11:token=kcsr-test-2;") {
		t.Errorf("second NewToken() URI = %s, want token kcsr-test-2", uri2)
	}
	for _, tc := range []struct {
		uri string
		ca  *testkit.CA
	}{{uri1, c1}, {uri2, c2}} {
		certFile := testkit.WriteFile(t, "ca.crt", tc.ca.CertPEM, 0o644)
		signLeaf(t, open(t, pkcs11.Config{ModulePath: module, URI: tc.uri, CertFile: certFile}), tc.ca.Cert)
	}
}

// BenchmarkSoftHSM2Sign is certificate.Sign's signature made by SoftHSM2 through crypto11,
// to compare with the in-memory key of pkg/certificate's BenchmarkBareCreateCertificate.
func BenchmarkSoftHSM2Sign(b *testing.B) {
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048} {
		b.Run(string(kt), func(b *testing.B) {
			c := testkit.NewCA(b, testkit.NewKey(b, kt))
			module, uri := softhsmtest.NewToken(b, c.KeyPEM)
			certFile := testkit.WriteFile(b, "ca.crt", c.CertPEM, 0o644)
			backend, err := pkcs11.New(context.Background(), pkcs11.Config{ModulePath: module, URI: uri, CertFile: certFile}, testkit.Epoch)
			if err != nil {
				b.Fatal(err)
			}
			defer backend.Close()
			signer, err := backend.Signer(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			leafKey := testkit.NewKey(b, testkit.P256)
			tmpl := &x509.Certificate{
				SerialNumber: testkit.Serial(b), Subject: pkix.Name{CommonName: "myuser", Organization: []string{"dev-team"}},
				NotBefore: testkit.Epoch.Add(-5 * time.Minute), NotAfter: testkit.Epoch.Add(24 * time.Hour),
				KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				BasicConstraintsValid: true,
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, leafKey.Public(), signer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
