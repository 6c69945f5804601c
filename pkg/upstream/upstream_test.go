package upstream

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestCheck: an upstream's answer is accepted only when it is the certificate asked for.
func TestCheck(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	inter := root.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	key := testkit.NewKey(t, testkit.P256)
	req, err := csr.ParseRequest(testkit.RequestPEM(t, key, testkit.Request(t, "alice", testkit.WithOrg("dev", "ops"), testkit.WithDNS("alice.example"))))
	if err != nil {
		t.Fatal(err)
	}
	now := testkit.Epoch
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	// good is what step-ca answers: the subject re-encoded (O values in one RDN, CN
	// after), the request's names, clientAuth, an hour and a minute of backdating.
	good := func(mutate ...func(*x509.Certificate)) *x509.Certificate {
		tmpl := testkit.LeafTemplate(testkit.Serial(t), "", now.Add(-time.Minute), now.Add(time.Hour))
		tmpl.Subject = pkix.Name{}
		tmpl.Subject.ExtraNames = []pkix.AttributeTypeAndValue{
			{Type: []int{2, 5, 4, 10}, Value: "dev"}, {Type: []int{2, 5, 4, 10}, Value: "ops"}, {Type: []int{2, 5, 4, 3}, Value: "alice"},
		}
		tmpl.DNSNames = []string{"alice.example"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		for _, m := range mutate {
			m(tmpl)
		}
		return tmpl
	}
	issue := func(tmpl *x509.Certificate, pub any) []*x509.Certificate {
		return []*x509.Certificate{inter.Issue(t, tmpl, pub), inter.Cert}
	}
	roots := []*x509.Certificate{root.Cert}
	for _, tc := range []struct {
		name    string
		chain   []*x509.Certificate
		roots   []*x509.Certificate
		wantErr string
	}{
		{name: "the certificate asked for", chain: issue(good(), key.Public()), roots: roots},
		{name: "none", chain: nil, roots: roots, wantErr: "the upstream answered no certificate"},
		{name: "another key", chain: issue(good(), testkit.NewKey(t, testkit.P256).Public()), roots: roots, wantErr: "the certificate is for another key"},
		{name: "O dropped", chain: issue(good(func(c *x509.Certificate) { c.Subject.ExtraNames = c.Subject.ExtraNames[2:] }), key.Public()), roots: roots, wantErr: `subject "CN=alice" is not the request's`},
		{name: "a name added", chain: issue(good(func(c *x509.Certificate) { c.DNSNames = append(c.DNSNames, "alice") }), key.Public()), roots: roots, wantErr: "subject alternative names [DNS:alice, DNS:alice.example] are not the request's [DNS:alice.example]"},
		{name: "an IP added", chain: issue(good(func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.IPv4(10, 0, 0, 1)} }), key.Public()), roots: roots, wantErr: "IP:10.0.0.1"},
		{name: "server auth not requested", chain: issue(good(func(c *x509.Certificate) { c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth) }), key.Public()), roots: roots, wantErr: "an extended key usage (1, see crypto/x509.ExtKeyUsage) that was not requested (requested: digital signature, client auth)"},
		{name: "a CA", chain: issue(good(func(c *x509.Certificate) { c.IsCA, c.BasicConstraintsValid = true, true }), key.Public()), roots: roots, wantErr: "is a CA certificate"},
		{name: "longer than asked", chain: issue(good(func(c *x509.Certificate) { c.NotAfter = now.Add(48 * time.Hour) }), key.Public()), roots: roots, wantErr: "longer than the 1h0m0s asked"},
		{name: "another root", chain: issue(good(), key.Public()), roots: []*x509.Certificate{other.Cert}, wantErr: "does not chain to the configured roots"},
		{name: "no intermediate", chain: issue(good(), key.Public())[:1], roots: roots, wantErr: "does not chain to the configured roots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(req, usages, time.Hour, tc.chain, tc.roots, now)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
