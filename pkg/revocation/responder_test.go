package revocation_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/testkit"
)

var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// newResponder issues a delegated OCSP responder certificate for a new key of type kt,
// valid from notBefore to notAfter; mutate may change the template.
func newResponder(t testing.TB, c *testkit.CA, kt testkit.KeyType, notBefore, notAfter time.Time, mutate ...func(*x509.Certificate)) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key := testkit.NewKey(t, kt)
	tmpl := &x509.Certificate{
		SerialNumber:    testkit.Serial(t),
		Subject:         pkix.Name{CommonName: "kcsr test OCSP responder"},
		NotBefore:       notBefore,
		NotAfter:        notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		ExtraExtensions: []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	for _, m := range mutate {
		m(tmpl)
	}
	return c.Issue(t, tmpl, key.Public()), key
}

// writePEM writes der as a PEM block of type typ to dir/name and returns the path.
func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openssl runs openssl with args in dir and returns its combined output and exit code.
// openssl is a test dependency (hack/install-deps.sh installs it): the test fails without
// it rather than skip.
func openssl(t testing.TB, dir string, args ...string) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is needed by this test; run hack/install-deps.sh: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	default:
		t.Fatalf("run openssl %s: %v", strings.Join(args, " "), err)
		return "", -1
	}
}
