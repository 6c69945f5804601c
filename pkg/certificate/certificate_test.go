package certificate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/testkit"
)

// now is the signer's clock in these tests.
var now = testkit.Epoch

// testCA is an in-memory CA backend.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func (c *testCA) Chain(context.Context) ([]*x509.Certificate, error) {
	return []*x509.Certificate{c.cert}, nil
}
func (c *testCA) Signer(context.Context) (crypto.Signer, error) { return c.key, nil }
func (c *testCA) Close() error                                  { return nil }

// newCA returns a self-signed CA for key valid from notBefore to notAfter.
func newCA(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) *testCA {
	t.Helper()
	c := testkit.NewCA(t, key, func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter })
	return &testCA{cert: c.Cert, key: c.Key}
}

func ecKey(t testing.TB) crypto.Signer { return testkit.NewKey(t, testkit.P256) }

// newRequest returns a P-256 request for subject and SANs that also asks for an extension
// the signer must drop.
func newRequest(t testing.TB, subject pkix.Name, dns []string, ips []net.IP) *x509.CertificateRequest {
	t.Helper()
	req, _ := testkit.NewRequest(t, ecKey(t), &x509.CertificateRequest{
		Subject: subject, DNSNames: dns, IPAddresses: ips,
		ExtraExtensions: []pkix.Extension{{Id: []int{1, 2, 3, 4}, Value: []byte{5, 0}}},
	})
	return req
}

func TestDuration(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	tests := []struct {
		name      string
		requested *int32
		max       time.Duration
		want      time.Duration
	}{
		{name: "unset gives the maximum", requested: nil, max: 24 * time.Hour, want: 24 * time.Hour},
		{name: "honoured", requested: i32(3600), max: 24 * time.Hour, want: time.Hour},
		{name: "exactly the maximum", requested: i32(86400), max: 24 * time.Hour, want: 24 * time.Hour},
		{name: "above the maximum is clamped", requested: i32(48 * 3600), max: 24 * time.Hour, want: 24 * time.Hour},
		{name: "the largest int32", requested: i32(1<<31 - 1), max: 8760 * time.Hour, want: 8760 * time.Hour},
		{name: "exactly 10 minutes", requested: i32(600), max: 24 * time.Hour, want: 10 * time.Minute},
		{name: "below 10 minutes is raised", requested: i32(60), max: 24 * time.Hour, want: 10 * time.Minute},
		{name: "zero is raised", requested: i32(0), max: 24 * time.Hour, want: 10 * time.Minute},
		{name: "negative is raised", requested: i32(-5), max: 24 * time.Hour, want: 10 * time.Minute},
		{name: "a maximum below 10 minutes wins", requested: i32(600), max: 5 * time.Minute, want: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Duration(tt.requested, tt.max); got != tt.want {
				t.Errorf("Duration() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidity(t *testing.T) {
	caValid := func(nb, na time.Time) *x509.Certificate { return &x509.Certificate{NotBefore: nb, NotAfter: na} }
	longCA := caValid(now.Add(-30*24*time.Hour), now.Add(365*24*time.Hour))
	tests := []struct {
		name           string
		ttl, backdate  time.Duration
		ca             *x509.Certificate
		wantNB, wantNA time.Time
		wantErr        string
	}{
		{name: "24h keeps its lifetime", ttl: 24 * time.Hour, backdate: DefaultBackdate, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(24*time.Hour - 5*time.Minute)},
		{name: "8h is long", ttl: 8 * time.Hour, backdate: DefaultBackdate, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(8*time.Hour - 5*time.Minute)},
		{name: "just under 8h is short", ttl: 8*time.Hour - time.Second, backdate: DefaultBackdate, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(8*time.Hour - time.Second)},
		{name: "1h gets the backdate on top", ttl: time.Hour, backdate: DefaultBackdate, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(time.Hour)},
		{name: "10m", ttl: 10 * time.Minute, backdate: DefaultBackdate, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(10 * time.Minute)},
		{name: "no backdate", ttl: 24 * time.Hour, backdate: 0, ca: longCA, wantNB: now, wantNA: now.Add(24 * time.Hour)},
		{
			name: "never before the CA", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-time.Minute), now.Add(48*time.Hour)),
			wantNB: now.Add(-time.Minute), wantNA: now.Add(time.Hour),
		},
		{
			name: "CA valid from now", ttl: 24 * time.Hour, backdate: DefaultBackdate, ca: caValid(now, now.Add(48*time.Hour)),
			wantNB: now, wantNA: now.Add(24*time.Hour - 5*time.Minute),
		},
		{
			name: "clamped to the CA", ttl: 24 * time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-time.Hour), now.Add(2*time.Hour)),
			wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(2 * time.Hour),
		},
		{
			name: "CA expiring in a second", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-time.Hour), now.Add(time.Second)),
			wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(time.Second),
		},
		{
			name: "CA expiring now", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-time.Hour), now),
			wantErr: "refusing to sign a certificate that expired in the past: NotAfter=2030-06-01 12:00:00 +0000 UTC",
		},
		{
			name: "CA expired within the backdate", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-time.Hour), now.Add(-time.Minute)),
			wantErr: "refusing to sign a certificate that expired in the past: NotAfter=2030-06-01 11:59:00 +0000 UTC",
		},
		{
			name: "CA expired before the backdate", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(-48*time.Hour), now.Add(-time.Hour)),
			wantErr: "the signer has expired: NotAfter=2030-06-01 11:00:00 +0000 UTC",
		},
		{
			name: "CA not valid yet", ttl: time.Hour, backdate: DefaultBackdate, ca: caValid(now.Add(time.Minute), now.Add(48*time.Hour)),
			wantErr: "the signer is not valid yet: NotBefore=2030-06-01 12:01:00 +0000 UTC",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nb, na, err := Validity(now, tt.ttl, tt.backdate, tt.ca)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("Validity() error (-want +got):\n%s", diff)
			}
			if !nb.Equal(tt.wantNB) || !na.Equal(tt.wantNA) {
				t.Errorf("Validity() = %s – %s, want %s – %s", nb, na, tt.wantNB, tt.wantNA)
			}
		})
	}
}

// TestSign signs with each CA key type and checks the certificate end to end.
func TestSign(t *testing.T) {
	tests := []struct {
		caKey   testkit.KeyType
		wantAlg x509.SignatureAlgorithm
	}{
		{caKey: testkit.P256, wantAlg: x509.ECDSAWithSHA256},
		{caKey: testkit.P384, wantAlg: x509.ECDSAWithSHA384},
		{caKey: testkit.RSA2048, wantAlg: x509.SHA256WithRSA},
		{caKey: testkit.Ed25519, wantAlg: x509.PureEd25519},
	}
	for _, tt := range tests {
		t.Run(string(tt.caKey), func(t *testing.T) {
			c := testkit.NewCA(t, testkit.NewKey(t, tt.caKey))
			leafKey := testkit.NewKey(t, testkit.RSA2048)
			req, _ := testkit.NewRequest(t, leafKey, &x509.CertificateRequest{
				Subject: pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, DNSNames: []string{"n1.example"},
			})
			usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}

			issued, err := Sign(context.Background(), c.Backend(), req, usages, Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate})
			if err != nil {
				t.Fatal(err)
			}
			cert := issued.Certificate
			roots := x509.NewCertPool()
			roots.AddCert(c.Cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, DNSName: "n1.example", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Errorf("Verify() for server auth: %v", err)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("Verify() for client auth succeeded; the certificate is for server auth only")
			}
			if cert.SignatureAlgorithm != tt.wantAlg {
				t.Errorf("SignatureAlgorithm = %v, want %v", cert.SignatureAlgorithm, tt.wantAlg)
			}
			if !bytes.Equal(cert.RawIssuer, c.Cert.RawSubject) {
				t.Error("the issuer is not the CA's subject")
			}
			if !cert.PublicKey.(*rsa.PublicKey).Equal(leafKey.Public()) {
				t.Error("the public key is not the request's")
			}
			if got, want := cert.NotAfter.Sub(cert.NotBefore), 24*time.Hour; got != want {
				t.Errorf("lifetime = %s, want %s", got, want)
			}
			block, rest := pem.Decode(issued.PEM)
			if block == nil || block.Type != "CERTIFICATE" || !bytes.Equal(block.Bytes, cert.Raw) || len(rest) != 0 {
				t.Errorf("PEM is not exactly one CERTIFICATE block holding the certificate:\n%s", issued.PEM)
			}
		})
	}
}

// oid names the extensions of a certificate, for comparison.
var oidNames = map[string]string{
	"2.5.29.14": "subjectKeyIdentifier", "2.5.29.15": "keyUsage", "2.5.29.17": "subjectAltName", "2.5.29.19": "basicConstraints",
	"2.5.29.31": "cRLDistributionPoints", "2.5.29.35": "authorityKeyIdentifier", "2.5.29.37": "extKeyUsage",
	"1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
}

func extensionNames(cert *x509.Certificate) []string {
	var names []string
	for _, e := range cert.Extensions {
		name, ok := oidNames[e.Id.String()]
		if !ok {
			name = e.Id.String()
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// TestSignCopiesTheRequest: subject and SANs are copied; every requested extension is
// dropped, including one asking to be a CA.
func TestSignCopiesTheRequest(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	spiffe, _ := url.Parse("spiffe://cluster.local/ns/default/sa/web")
	bc, _ := asn1.Marshal(struct {
		IsCA bool
	}{true})
	subject := pkix.Name{
		CommonName: "web", Organization: []string{"team-a", "team-b"}, OrganizationalUnit: []string{"ou"},
		Country: []string{"FR"}, Locality: []string{"Paris"},
	}
	req, _ := testkit.NewRequest(t, testkit.NewKey(t, testkit.P256), &x509.CertificateRequest{
		Subject:        subject,
		DNSNames:       []string{"web.example", "*.web.example"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1").To4(), net.ParseIP("fd00::1")},
		EmailAddresses: []string{"web@example.com"},
		URIs:           []*url.URL{spiffe},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc},                                     // basicConstraints CA:TRUE
			{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: []byte{0x03, 0x02, 0x01, 0x06}},         // keyUsage keyCertSign, cRLSign
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Value: []byte{0x05, 0x00}},                       // a private extension
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: []byte{0x30, 0x06, 0x06, 0x04, 0x55, 0x1d, 0x25, 0x00}}, // extKeyUsage any
		},
	})
	issued, err := Sign(context.Background(), c.Backend(), req, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		Options{Now: now, TTL: time.Hour, Backdate: DefaultBackdate})
	if err != nil {
		t.Fatal(err)
	}
	cert := issued.Certificate
	if diff := cmp.Diff(subject.String(), cert.Subject.String()); diff != "" {
		t.Errorf("subject (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(req.DNSNames, cert.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(req.IPAddresses, cert.IPAddresses); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(req.EmailAddresses, cert.EmailAddresses); diff != "" {
		t.Errorf("email addresses (-want +got):\n%s", diff)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != spiffe.String() {
		t.Errorf("URIs = %v, want [%s]", cert.URIs, spiffe)
	}
	if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("IsCA=%v BasicConstraintsValid=%v KeyUsage=%v: a requested extension survived", cert.IsCA, cert.BasicConstraintsValid, cert.KeyUsage)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage); diff != "" {
		t.Errorf("EKUs (-want +got):\n%s", diff)
	}
	want := []string{"authorityKeyIdentifier", "basicConstraints", "extKeyUsage", "keyUsage", "subjectAltName", "subjectKeyIdentifier"}
	if diff := cmp.Diff(want, extensionNames(cert)); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
}

func TestSignUsages(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	req := newRequest(t, pkix.Name{CommonName: "u"}, nil, nil)
	tests := []struct {
		name    string
		usages  []certificatesv1.KeyUsage
		wantKU  x509.KeyUsage
		wantEKU []x509.ExtKeyUsage
		wantExt []string
		wantErr string
	}{
		{
			name:    "kube-apiserver-client",
			usages:  []certificatesv1.KeyUsage{"digital signature", "key encipherment", "client auth"},
			wantKU:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			wantExt: []string{"authorityKeyIdentifier", "basicConstraints", "extKeyUsage", "keyUsage", "subjectKeyIdentifier"},
		},
		{
			name:    "duplicates and aliases collapse, EKUs sorted",
			usages:  []certificatesv1.KeyUsage{"s/mime", "signing", "client auth", "email protection", "server auth", "digital signature", "client auth"},
			wantKU:  x509.KeyUsageDigitalSignature,
			wantEKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection},
			wantExt: []string{"authorityKeyIdentifier", "basicConstraints", "extKeyUsage", "keyUsage", "subjectKeyIdentifier"},
		},
		{
			name:    "every key usage bit",
			usages:  []certificatesv1.KeyUsage{"digital signature", "content commitment", "key encipherment", "data encipherment", "key agreement", "cert sign", "crl sign", "encipher only", "decipher only"},
			wantKU:  x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageKeyAgreement | x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly,
			wantExt: []string{"authorityKeyIdentifier", "basicConstraints", "keyUsage", "subjectKeyIdentifier"},
		},
		{
			name:   "every extended key usage",
			usages: []certificatesv1.KeyUsage{"netscape sgc", "microsoft sgc", "ocsp signing", "timestamping", "ipsec user", "ipsec tunnel", "ipsec end system", "code signing", "any", "server auth", "client auth", "email protection"},
			wantEKU: []x509.ExtKeyUsage{
				x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection,
				x509.ExtKeyUsageIPSECEndSystem, x509.ExtKeyUsageIPSECTunnel, x509.ExtKeyUsageIPSECUser, x509.ExtKeyUsageTimeStamping, x509.ExtKeyUsageOCSPSigning,
				x509.ExtKeyUsageMicrosoftServerGatedCrypto, x509.ExtKeyUsageNetscapeServerGatedCrypto,
			},
			wantExt: []string{"authorityKeyIdentifier", "basicConstraints", "extKeyUsage", "subjectKeyIdentifier"},
		},
		{
			name:    "cert sign does not make a CA",
			usages:  []certificatesv1.KeyUsage{"cert sign"},
			wantKU:  x509.KeyUsageCertSign,
			wantExt: []string{"authorityKeyIdentifier", "basicConstraints", "keyUsage", "subjectKeyIdentifier"},
		},
		{
			name:    "unknown usages",
			usages:  []certificatesv1.KeyUsage{"client auth", "server-auth", "bogus"},
			wantErr: `unrecognized usage values: ["server-auth" "bogus"]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issued, err := Sign(context.Background(), c.Backend(), req, tt.usages, Options{Now: now, TTL: time.Hour})
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("Sign() error (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			cert := issued.Certificate
			if cert.KeyUsage != tt.wantKU {
				t.Errorf("KeyUsage = %b, want %b", cert.KeyUsage, tt.wantKU)
			}
			if diff := cmp.Diff(tt.wantEKU, cert.ExtKeyUsage); diff != "" {
				t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExt, extensionNames(cert)); diff != "" {
				t.Errorf("extensions (-want +got):\n%s", diff)
			}
			if cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("IsCA=%v BasicConstraintsValid=%v, want a non-CA", cert.IsCA, cert.BasicConstraintsValid)
			}
		})
	}
}

// bitStringSHA1 is the RFC 5280 method 1 key identifier computed without KeyID.
func bitStringSHA1(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	var raw []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		raw = e.Bytes() // the uncompressed point, which is the BIT STRING's content
	case *rsa.PublicKey:
		raw = x509.MarshalPKCS1PublicKey(k) // RSAPublicKey, the BIT STRING's content
	case ed25519.PublicKey:
		raw = k
	default:
		t.Fatalf("unexpected key %T", pub)
	}
	sum := sha1.Sum(raw)
	return sum[:]
}

func TestSignKeyIdentifiers(t *testing.T) {
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048, testkit.Ed25519} {
		t.Run(string(kt), func(t *testing.T) {
			c := testkit.NewCA(t, testkit.NewKey(t, kt))
			leafKey := testkit.NewKey(t, kt)
			req, _ := testkit.NewRequest(t, leafKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "k"}})

			issued, err := Sign(context.Background(), c.Backend(), req, []certificatesv1.KeyUsage{"client auth"}, Options{Now: now, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(bitStringSHA1(t, leafKey.Public()), issued.Certificate.SubjectKeyId); diff != "" {
				t.Errorf("SubjectKeyId (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.Cert.SubjectKeyId, issued.Certificate.AuthorityKeyId); diff != "" {
				t.Errorf("AuthorityKeyId is not the CA's SubjectKeyId (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("CA certificate without a subject key identifier", func(t *testing.T) {
		c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		noSKI := *c.Cert
		noSKI.SubjectKeyId = nil
		backend := &testkit.Static{ChainCerts: []*x509.Certificate{&noSKI}, Key: c.Key}
		req := newRequest(t, pkix.Name{CommonName: "k"}, nil, nil)

		issued, err := Sign(context.Background(), backend, req, []certificatesv1.KeyUsage{"client auth"}, Options{Now: now, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(bitStringSHA1(t, c.Key.Public()), issued.Certificate.AuthorityKeyId); diff != "" {
			t.Errorf("AuthorityKeyId (-want +got):\n%s", diff)
		}
	})
}

// TestSignIntermediate: an intermediate CA signs; the output holds the leaf alone, which
// verifies with the intermediate supplied separately.
func TestSignIntermediate(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter := root.NewIntermediate(t, testkit.NewKey(t, testkit.RSA2048))
	req := newRequest(t, pkix.Name{CommonName: "alice", Organization: []string{"dev"}}, nil, nil)

	issued, err := Sign(context.Background(), inter.Backend(), req, []certificatesv1.KeyUsage{"digital signature", "client auth"}, Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate})
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(issued.PEM, []byte("-----BEGIN ")); n != 1 {
		t.Errorf("PEM has %d blocks, want the leaf alone", n)
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	intermediates.AddCert(inter.Cert)
	if _, err := issued.Certificate.Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("Verify(): %v", err)
	}
	if !bytes.Equal(issued.Certificate.AuthorityKeyId, inter.Cert.SubjectKeyId) {
		t.Error("AuthorityKeyId is not the intermediate's")
	}
}

// constReader yields the same bytes forever.
type constReader struct{ b byte }

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	return len(p), nil
}

func TestSerial(t *testing.T) {
	maxSerial := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	zerosThenOne := io.MultiReader(bytes.NewReader(make([]byte, 16)), bytes.NewReader(append(make([]byte, 15), 1)))
	tests := []struct {
		name    string
		r       io.Reader
		want    *big.Int
		wantErr string
	}{
		{name: "all ones is 2^128-1", r: constReader{0xff}, want: maxSerial},
		{name: "zero is drawn again", r: zerosThenOne, want: big.NewInt(1)},
		{name: "reader fails", r: bytes.NewReader(make([]byte, 4)), wantErr: "unexpected EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Serial(tt.r)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("Serial() error (-want +got):\n%s", diff)
			}
			if tt.want != nil && got.Cmp(tt.want) != 0 {
				t.Errorf("Serial() = %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("crypto/rand stays in [1, 2^128)", func(t *testing.T) {
		c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		req := newRequest(t, pkix.Name{CommonName: "s"}, nil, nil)
		seen := map[string]bool{}
		for range 50 {
			issued, err := Sign(context.Background(), c.Backend(), req, []certificatesv1.KeyUsage{"client auth"}, Options{Now: now, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			s := issued.Certificate.SerialNumber
			if s.Sign() <= 0 || s.BitLen() > 128 || seen[s.String()] {
				t.Fatalf("serial %s is out of [1, 2^128) or repeated", s)
			}
			seen[s.String()] = true
		}
	})
	t.Run("Options.Rand gives the serial", func(t *testing.T) {
		c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
		req := newRequest(t, pkix.Name{CommonName: "s"}, nil, nil)
		issued, err := Sign(context.Background(), c.Backend(), req, []certificatesv1.KeyUsage{"client auth"}, Options{Now: now, TTL: time.Hour, Rand: constReader{0xff}})
		if err != nil {
			t.Fatal(err)
		}
		if issued.Certificate.SerialNumber.Cmp(maxSerial) != 0 {
			t.Errorf("serial = %s, want %s", issued.Certificate.SerialNumber, maxSerial)
		}
	})
}

func TestSignRevocationURLs(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	req := newRequest(t, pkix.Name{CommonName: "r"}, nil, nil)
	issued, err := Sign(context.Background(), c.Backend(), req, []certificatesv1.KeyUsage{"client auth"}, Options{
		Now: now, TTL: time.Hour,
		OCSPServers:           []string{"http://ocsp.kcsr.example"},
		CRLDistributionPoints: []string{"http://crl.kcsr.example/ca.crl"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cert := issued.Certificate
	if diff := cmp.Diff([]string{"http://ocsp.kcsr.example"}, cert.OCSPServer); diff != "" {
		t.Errorf("OCSPServer (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"http://crl.kcsr.example/ca.crl"}, cert.CRLDistributionPoints); diff != "" {
		t.Errorf("CRLDistributionPoints (-want +got):\n%s", diff)
	}
	want := []string{"authorityInfoAccess", "authorityKeyIdentifier", "basicConstraints", "cRLDistributionPoints", "extKeyUsage", "subjectKeyIdentifier"}
	if diff := cmp.Diff(want, extensionNames(cert)); diff != "" {
		t.Errorf("extensions (-want +got):\n%s", diff)
	}
}

// failingSigner is a CA key whose every signature fails.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token removed")
}

func TestSignErrors(t *testing.T) {
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	expired := testkit.NewCA(t, c.Key, func(x *x509.Certificate) { x.NotAfter = now.Add(-time.Hour) })
	req := newRequest(t, pkix.Name{CommonName: "e"}, nil, nil)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	usages := []certificatesv1.KeyUsage{"client auth"}
	ok := Options{Now: now, TTL: time.Hour, Backdate: DefaultBackdate}

	tests := []struct {
		name    string
		ctx     context.Context
		backend ca.Backend
		o       Options
		wantIs  error
		wantErr string
	}{
		{name: "no Now", backend: c.Backend(), o: Options{TTL: time.Hour}, wantErr: "certificate: Options.Now is required; pass the signer's clock time"},
		{name: "no TTL", backend: c.Backend(), o: Options{Now: now}, wantErr: "certificate: Options.TTL is 0s; it must be positive (see Duration)"},
		{name: "negative backdate", backend: c.Backend(), o: Options{Now: now, TTL: time.Hour, Backdate: -time.Minute}, wantErr: "certificate: Options.Backdate is -1m0s; it must not be negative"},
		{name: "canceled", ctx: canceled, backend: c.Backend(), o: ok, wantIs: context.Canceled, wantErr: "context canceled"},
		{name: "chain fails", backend: &testkit.Static{ChainErr: errors.New("HSM unreachable")}, o: ok, wantErr: "read the CA certificate: HSM unreachable"},
		{name: "no certificate", backend: &testkit.Static{Key: c.Key}, o: ok, wantIs: ca.ErrNoCertificate, wantErr: "the CA has no certificate"},
		{name: "signer fails", backend: &testkit.Static{ChainCerts: c.Chain, SignerErr: errors.New("login failed")}, o: ok, wantErr: "open the CA key: login failed"},
		{name: "signature fails", backend: &testkit.Static{ChainCerts: c.Chain, Key: failingSigner{c.Key}}, o: ok, wantErr: "failed to sign certificate: token removed"},
		{name: "CA expired", backend: expired.Backend(), o: ok, wantErr: "the signer has expired: NotAfter=2030-06-01 11:00:00 +0000 UTC"},
		{name: "serial source fails", backend: c.Backend(), o: Options{Now: now, TTL: time.Hour, Rand: bytes.NewReader(nil)}, wantErr: "unable to generate a serial number for e: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := Sign(ctx, tt.backend, req, usages, tt.o)
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("Sign() error (-want +got):\n%s", diff)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Sign() error is not %v", tt.wantIs)
			}
		})
	}
}
