package doctor

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/testkit"
)

// certificate makes a certificate for pub for localhost, signed by parent/parentKey
// (self-signed when parent is nil), with the fixed serial abc the findings name.
func certificate(t testing.TB, cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, notBefore, notAfter time.Time, ca bool, eku ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(0xabc),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  ca,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	return (&testkit.CA{Cert: parent, Key: parentKey}).Issue(t, tmpl, pub)
}

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func lines(fs []Finding) []string {
	if len(fs) == 0 {
		return nil
	}
	return Report(fs).Lines()
}

func diffLines(t *testing.T, want []string, got []Finding) {
	t.Helper()
	if diff := cmp.Diff(want, lines(got)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}
