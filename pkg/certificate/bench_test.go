package certificate

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// The benchmarks compare kcsr's signing path with x509.CreateCertificate alone, for a P-256
// and an RSA-2048 CA key (the request's key is P-256 in both):
//
//	go test -run '^$' -bench . -benchmem ./pkg/certificate
//
// BenchmarkSign is what the signer controller does for one CSR, short of the API writes:
// decode the PEM request and verify its signature (csr.ParseRequest), apply the built-in
// signer's rules (csr.ValidateForSigner), build the template (serial, validity, usages,
// SKI/AKI), sign, parse the result and PEM-encode it. BenchmarkBareCreateCertificate signs
// the same template, prepared once, and nothing else.

var benchCAKeys = []testkit.KeyType{testkit.P256, testkit.RSA2048}

var benchUsages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}

func benchRequest(b *testing.B) []byte {
	_, reqPEM := testkit.NewRequest(b, testkit.NewKey(b, testkit.P256), &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "myuser", Organization: []string{"dev-team"}},
	})
	return reqPEM
}

func BenchmarkSign(b *testing.B) {
	for _, kt := range benchCAKeys {
		b.Run(string(kt), func(b *testing.B) {
			backend := testkit.NewCA(b, testkit.NewKey(b, kt)).Backend()
			reqPEM := benchRequest(b)
			ctx := context.Background()
			o := Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate}
			b.ReportAllocs()
			for b.Loop() {
				req, err := csr.ParseRequest(reqPEM)
				if err != nil {
					b.Fatal(err)
				}
				if err := csr.ValidateForSigner(csr.KubeAPIServerClientSignerName, req, benchUsages); err != nil {
					b.Fatal(err)
				}
				if _, err := Sign(ctx, backend, req, benchUsages, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBareCreateCertificate(b *testing.B) {
	for _, kt := range benchCAKeys {
		b.Run(string(kt), func(b *testing.B) {
			c := testkit.NewCA(b, testkit.NewKey(b, kt))
			req, err := csr.ParseRequest(benchRequest(b))
			if err != nil {
				b.Fatal(err)
			}
			tmpl, err := Template(req, benchUsages, c.Cert, Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, req.PublicKey, c.Key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
