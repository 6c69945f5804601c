package certificate

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"net"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestZlint lints the certificates of each built-in signer with the zlint sources that
// apply to a private PKI: RFC 5280 (profile), RFC 5480 (ECC keys), RFC 5891 (IDNs) and
// RFC 8813 (ECC key usages). The CA/Browser Forum, Mozilla, Apple and ETSI sources are
// left out: they govern publicly-trusted web PKI (e.g. they require SANs on client
// certificates and forbid internal names), not a cluster's own identities.
func TestZlint(t *testing.T) {
	registry, err := lint.GlobalRegistry().Filter(lint.FilterOptions{
		IncludeSources: lint.SourceList{lint.RFC5280, lint.RFC5480, lint.RFC5891, lint.RFC8813},
	})
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := testkit.NewKey(t, testkit.RSA2048)
	cases := []struct {
		name    string
		subject pkix.Name
		dns     []string
		ips     []net.IP
		usages  []certificatesv1.KeyUsage
	}{
		{"kube-apiserver-client", pkix.Name{CommonName: "rahul", Organization: []string{"developers"}}, nil, nil,
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}},
		{"kube-apiserver-client-kubelet", pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, nil, nil,
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}},
		{"kubelet-serving", pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, []string{"n1.example.internal"}, []net.IP{net.ParseIP("10.0.0.7")},
			[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}},
	}
	for caName, caKey := range map[string]crypto.Signer{"ecdsa-ca": ecKey(t), "rsa-ca": rsaKey} {
		ca := newCA(t, caKey, now.Add(-time.Hour), now.Add(10*365*24*time.Hour))
		for _, tc := range cases {
			t.Run(caName+"/"+tc.name, func(t *testing.T) {
				req := newRequest(t, tc.subject, tc.dns, tc.ips)
				issued, err := Sign(context.Background(), ca, req, tc.usages, Options{Now: now, TTL: 24 * time.Hour, Backdate: DefaultBackdate})
				if err != nil {
					t.Fatal(err)
				}
				zc, err := zx509.ParseCertificate(issued.Certificate.Raw)
				if err != nil {
					t.Fatal(err)
				}
				results := zlint.LintCertificateEx(zc, registry)
				ran := 0
				for name, r := range results.Results {
					if r.Status == lint.NA || r.Status == lint.NE {
						continue
					}
					ran++
					if r.Status == lint.Error || r.Status == lint.Fatal {
						t.Errorf("%s: %s %s", name, r.Status, r.Details)
					}
				}
				if ran < 20 {
					t.Errorf("only %d lints applied; the registry filter is wrong", ran)
				}
			})
		}
	}
}
