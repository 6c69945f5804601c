package ca_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestChainsTo(t *testing.T) {
	clusterKey := testkit.NewKey(t, testkit.P256)
	cluster := testkit.NewCA(t, clusterKey)
	// The same CA renewed: a new certificate, the same subject and key.
	renewed := testkit.NewCA(t, clusterKey)
	intermediate := cluster.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	deeper := intermediate.NewIntermediate(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	// Another key with the cluster CA's subject: not the cluster CA.
	impostor := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	// Issued by the other CA under the cluster CA's name: the name alone proves nothing.
	otherIntermediate := other.NewIntermediate(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "kcsr test intermediate CA", Organization: []string{"kcsr tests"}}
	})
	otherRenamed := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) {
		c.Subject = pkix.Name{CommonName: "another CA"}
	})
	// A chain whose second certificate did not issue the first.
	broken := []*x509.Certificate{otherIntermediate.Cert, intermediate.Cert, cluster.Cert}

	trusted := []*x509.Certificate{otherRenamed.Cert, cluster.Cert}
	tests := []struct {
		name  string
		chain []*x509.Certificate
		want  bool
	}{
		{name: "the trusted CA itself", chain: []*x509.Certificate{cluster.Cert}, want: true},
		{name: "the trusted CA renewed for the same key", chain: []*x509.Certificate{renewed.Cert}, want: true},
		{name: "an intermediate of the trusted CA, alone", chain: []*x509.Certificate{intermediate.Cert}, want: true},
		{name: "an intermediate of the trusted CA, with its root", chain: intermediate.Chain, want: true},
		{name: "two levels down, with the chain", chain: ca.TrimRoot(deeper.Chain), want: true},
		{name: "two levels down, without the chain", chain: []*x509.Certificate{deeper.Cert}, want: false},
		{name: "another CA", chain: []*x509.Certificate{other.Cert}, want: false},
		{name: "the trusted CA's subject with another key", chain: []*x509.Certificate{impostor.Cert}, want: false},
		{name: "an intermediate of another CA", chain: otherIntermediate.Chain, want: false},
		{name: "a chain that does not hold together", chain: broken, want: false},
		{name: "no certificate", chain: nil, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ca.ChainsTo(tc.chain, trusted); got != tc.want {
				t.Errorf("ChainsTo = %v, want %v", got, tc.want)
			}
		})
	}
	if ca.ChainsTo(cluster.Chain, nil) {
		t.Error("ChainsTo with nothing trusted = true, want false")
	}
}

func TestIdentityOf(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	a, b := testkit.NewCA(t, key), testkit.NewCA(t, key)
	c := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	if ca.IdentityOf(a.Cert) != ca.IdentityOf(b.Cert) {
		t.Error("two certificates with one subject and key have different identities")
	}
	if ca.IdentityOf(a.Cert) == ca.IdentityOf(c.Cert) {
		t.Error("two CAs with different keys have the same identity")
	}
}
