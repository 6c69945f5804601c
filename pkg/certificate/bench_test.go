package certificate

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
)

// BenchmarkSign measures kcsr's signing path for one CSR: decode the PEM request and check
// its signature, apply the built-in signer's rules, build the template and sign. Compare
// with BenchmarkBareCreateCertificate, x509.CreateCertificate alone with the same key:
//
//	go test -run XXX -bench . -benchmem ./pkg/certificate
func BenchmarkSign(b *testing.B) {
	for _, bc := range caKeys(b) {
		b.Run(bc.name, func(b *testing.B) {
			ca := newCA(b, bc.key, now.Add(-time.Hour), now.Add(365*24*time.Hour))
			reqPEM := requestPEM(b)
			usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req, err := csr.ParseRequest(reqPEM)
				if err != nil {
					b.Fatal(err)
				}
				if err := csr.ValidateKubeAPIServerClient(req, usages); err != nil {
					b.Fatal(err)
				}
				if _, err := Sign(ctx, ca, req, usages, Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareCreateCertificate is the floor: x509.CreateCertificate with a prepared
// template.
func BenchmarkBareCreateCertificate(b *testing.B) {
	for _, bc := range caKeys(b) {
		b.Run(bc.name, func(b *testing.B) {
			ca := newCA(b, bc.key, now.Add(-time.Hour), now.Add(365*24*time.Hour))
			req, err := csr.ParseRequest(requestPEM(b))
			if err != nil {
				b.Fatal(err)
			}
			tmpl, err := Template(req, []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, ca.cert, Options{Now: now, TTL: 24 * time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, req.PublicKey, ca.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type caKey struct {
	name string
	key  crypto.Signer
}

func caKeys(b *testing.B) []caKey {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	return []caKey{{"P-256", ecKey(b)}, {"RSA-2048", rsaKey}}
}

func requestPEM(b *testing.B) []byte {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "rahul", Organization: []string{"developers"}}}, ecKey(b))
	if err != nil {
		b.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
