package admin

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

// The CSRs the admin verbs show: what kcsr-admin asks of the client signer, built with
// testkit.

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// requestPEM is a request for subject and dns, with the IP and URI every listing shows.
func requestPEM(t testing.TB, key crypto.Signer, subject pkix.Name, dns ...string) []byte {
	t.Helper()
	tmpl := testkit.Request(t, "", testkit.WithDNS(dns...), testkit.WithIP("10.0.0.1"), testkit.WithURI("spiffe://example.com/rahul"))
	tmpl.Subject = subject
	return testkit.RequestPEM(t, key, tmpl)
}

// issue signs a certificate of serial 1f2e3d for key's public key, by a throw-away CA
// named kcsr-ca.
func issue(t testing.TB, key crypto.Signer, cn string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.ValidBetween(notBefore, notAfter.Add(time.Hour)),
		testkit.Named("kcsr-ca"))
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x1f2e3d), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	return testkit.CertPEM(ca.Issue(t, tmpl, key.Public()))
}

// newCSR is kcsr-admin's client certificate request name for request, created at epoch,
// changed by mods.
func newCSR(name string, request []byte, mods ...testkit.CSRModifier) *certificatesv1.CertificateSigningRequest {
	return testkit.CSR(name, append([]testkit.CSRModifier{
		testkit.SetCreated(epoch), testkit.SetRequest(request),
		testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName), testkit.SetExpirationSeconds(86400),
		testkit.SetUsages(certificatesv1.UsageClientAuth),
		testkit.SetUsername("kcsr-admin"), testkit.SetGroups("system:masters", "system:authenticated"),
	}, mods...)...)
}

// withCondition is a condition last updated a minute after epoch.
func withCondition(typ certificatesv1.RequestConditionType, reason, message string) testkit.CSRModifier {
	return testkit.SetConditionAt(typ, reason, message, epoch.Add(time.Minute))
}
