package request

import (
	"crypto/rand"
	"net"
	"net/url"
	"testing"

	"kcsr.dev/kcsr/pkg/csr"
)

// TestIdentityCSRIsOnlyTheRequest: what kcsr request puts in spec.request is one
// CERTIFICATE REQUEST block, nothing else (the server refuses anything more, issue 13
// item 6), for every key type the CLI makes.
func TestIdentityCSRIsOnlyTheRequest(t *testing.T) {
	id := Identity{
		CommonName: "rahul", Organizations: []string{"developers"},
		DNSNames: []string{"a.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
		EmailAddresses: []string{"rahul@example.com"}, URIs: []*url.URL{{Scheme: "spiffe", Host: "example.com", Path: "/rahul"}},
	}
	for _, alg := range []string{"ecdsa-p256", "rsa-2048", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			key, err := GenerateKey(alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			requestPEM, err := id.CSR(key, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := csr.ParseStrictRequest(requestPEM); err != nil {
				t.Errorf("the server would refuse the request: %v", err)
			}
			if csr.HoldsPrivateKey(requestPEM) {
				t.Error("the request holds a private key")
			}
		})
	}
}
