package certificate

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
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

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

func newCA(t testing.TB, key crypto.Signer, notBefore, notAfter time.Time) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ski, err := KeyID(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SubjectKeyId = ski
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newRequest(t testing.TB, subject pkix.Name, dns []string, ips []net.IP) *x509.CertificateRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: subject, DNSNames: dns, IPAddresses: ips,
		ExtraExtensions: []pkix.Extension{{Id: []int{1, 2, 3, 4}, Value: []byte{5, 0}}},
	}, ecKey(t))
	if err != nil {
		t.Fatal(err)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestDuration(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	max := 24 * time.Hour
	cases := map[string]struct {
		requested *int32
		want      time.Duration
	}{
		"unset gives the maximum":   {nil, max},
		"above the maximum clamped": {i32(48 * 3600), max},
		"below 10m raised":          {i32(60), 10 * time.Minute},
		"honoured":                  {i32(3600), time.Hour},
	}
	for name, tc := range cases {
		if got := Duration(tc.requested, max); got != tc.want {
			t.Errorf("%s: Duration = %s, want %s", name, got, tc.want)
		}
	}
}

func TestValidity(t *testing.T) {
	caCert := func(nb, na time.Time) *x509.Certificate { return &x509.Certificate{NotBefore: nb, NotAfter: na} }
	longCA := caCert(now.Add(-time.Hour*24*30), now.Add(24*365*time.Hour))
	cases := []struct {
		name           string
		ttl            time.Duration
		ca             *x509.Certificate
		wantNB, wantNA time.Time
		wantErr        string
	}{
		{name: "long ttl keeps the lifetime", ttl: 24 * time.Hour, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(24*time.Hour - 5*time.Minute)},
		{name: "short ttl adds the backdate", ttl: time.Hour, ca: longCA, wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(time.Hour)},
		{name: "never before the CA", ttl: time.Hour, ca: caCert(now.Add(-time.Minute), now.Add(48*time.Hour)), wantNB: now.Add(-time.Minute), wantNA: now.Add(time.Hour)},
		{name: "clamped to the CA", ttl: 24 * time.Hour, ca: caCert(now.Add(-time.Hour), now.Add(2*time.Hour)), wantNB: now.Add(-5 * time.Minute), wantNA: now.Add(2 * time.Hour)},
		{name: "expired CA", ttl: time.Hour, ca: caCert(now.Add(-48*time.Hour), now.Add(-time.Hour)), wantErr: "refusing to sign a certificate that expired in the past: NotAfter=" + now.Add(-time.Hour).String()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nb, na, err := Validity(now, tc.ttl, DefaultBackdate, tc.ca)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !nb.Equal(tc.wantNB) || !na.Equal(tc.wantNA) {
				t.Errorf("validity = %s – %s, want %s – %s", nb, na, tc.wantNB, tc.wantNA)
			}
		})
	}
}

func TestSign(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]crypto.Signer{"ecdsa": ecKey(t), "rsa": rsaKey, "ed25519": edKey} {
		t.Run(name, func(t *testing.T) {
			ca := newCA(t, key, now.Add(-time.Hour), now.Add(365*24*time.Hour))
			req := newRequest(t, pkix.Name{CommonName: "node", Organization: []string{"system:nodes"}}, []string{"node.example"}, []net.IP{net.ParseIP("10.0.0.1")})
			usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth}
			issued, err := Sign(context.Background(), ca, req, usages, Options{Now: now, TTL: time.Hour, Backdate: DefaultBackdate, CRLDistributionPoints: []string{"http://crl.example/ca.crl"}})
			if err != nil {
				t.Fatal(err)
			}
			cert := issued.Certificate
			roots := x509.NewCertPool()
			roots.AddCert(ca.cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSName: "node.example"}); err != nil {
				t.Errorf("verify: %v", err)
			}
			if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage); diff != "" {
				t.Errorf("EKUs (-want +got):\n%s", diff)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA || !cert.BasicConstraintsValid {
				t.Errorf("key usage %v, IsCA %v", cert.KeyUsage, cert.IsCA)
			}
			for _, ext := range cert.Extensions {
				if ext.Id.Equal([]int{1, 2, 3, 4}) {
					t.Errorf("a requested extension was copied into the certificate")
				}
			}
			wantSKI, _ := KeyID(req.PublicKey)
			if !cmp.Equal(cert.SubjectKeyId, wantSKI) || !cmp.Equal(cert.AuthorityKeyId, ca.cert.SubjectKeyId) {
				t.Errorf("SKI/AKI = %x/%x, want %x/%x", cert.SubjectKeyId, cert.AuthorityKeyId, wantSKI, ca.cert.SubjectKeyId)
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
				t.Errorf("serial %s out of [1, 2^128)", cert.SerialNumber)
			}
			if diff := cmp.Diff([]string{"http://crl.example/ca.crl"}, cert.CRLDistributionPoints); diff != "" {
				t.Errorf("CRL distribution points (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignRejectsUnknownUsage(t *testing.T) {
	ca := newCA(t, ecKey(t), now.Add(-time.Hour), now.Add(time.Hour*48))
	req := newRequest(t, pkix.Name{CommonName: "x"}, nil, nil)
	_, err := Sign(context.Background(), ca, req, []certificatesv1.KeyUsage{"bogus"}, Options{Now: now, TTL: time.Hour})
	if err == nil {
		t.Fatal("expected an error for an unknown usage")
	}
}
