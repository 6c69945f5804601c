package framework

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/testkit"
)

// CSRManifest is the seed's manifest: a CertificateSigningRequest whose request field holds
// the given value verbatim.
func CSRManifest(name, request, signerName string, expirationSeconds int, usages ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: %s\nspec:\n  request: %s\n  signerName: %s\n", name, request, signerName)
	if expirationSeconds > 0 {
		fmt.Fprintf(&b, "  expirationSeconds: %d\n", expirationSeconds)
	}
	b.WriteString("  usages:\n")
	for _, u := range usages {
		fmt.Fprintf(&b, "  - %s\n", u)
	}
	return b.String()
}

// OpensslCSR runs the seed's two openssl commands in dir (`openssl genrsa -out NAME.key
// 2048`, `openssl req -new -key NAME.key -out NAME.csr -subj SUBJ`) and returns the CSR
// encoded as the seed does: base64 with the line breaks removed.
func OpensslCSR(t testing.TB, dir, name, subj string) string {
	t.Helper()
	Openssl(t, dir, "genrsa", "-out", name+".key", "2048")
	Openssl(t, dir, "req", "-new", "-key", name+".key", "-out", name+".csr", "-subj", subj)
	pem, err := os.ReadFile(filepath.Join(dir, name+".csr"))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem)
}

// GoCSR makes an ECDSA P-256 key and a PKCS#10 request for the subject and SANs, writes
// the key to dir/name.key, and returns the request as one line of base64.
func GoCSR(t testing.TB, dir, name, cn string, orgs, dnsNames []string, ips []net.IP) string {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	tmpl := testkit.Request(t, cn, testkit.WithOrg(orgs...), testkit.WithDNS(dnsNames...))
	tmpl.IPAddresses = ips
	if err := os.WriteFile(filepath.Join(dir, name+".key"), testkit.KeyPEM(t, key), 0o600); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(testkit.RequestPEM(t, key, tmpl))
}

// CorruptSignature flips the last byte of a PEM CSR's signature and returns it base64
// encoded: still a well-formed PKCS#10 structure, whose signature no longer verifies.
func CorruptSignature(t testing.TB, csrPEM []byte) string {
	t.Helper()
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		t.Fatal("no PEM block in CSR")
	}
	der := append([]byte(nil), block.Bytes...)
	der[len(der)-1] ^= 0xff
	if _, err := x509.ParseCertificateRequest(der); err != nil {
		t.Fatalf("corrupted CSR no longer parses: %v", err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// IssuedCertificate returns the CSR name's status.certificate (PEM), empty while it has
// none.
func IssuedCertificate(t testing.TB, kubeconfig, name string) []byte {
	t.Helper()
	b64 := MustKubectl(t, kubeconfig, "get", "csr", name, "-o", "jsonpath={.status.certificate}")
	certPEM, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("CSR %s: status.certificate %q: %v", name, b64, err)
	}
	return certPEM
}

// WaitIssued waits up to 30 s for the CSR name to hold a certificate and returns it (PEM).
func WaitIssued(t testing.TB, kubeconfig, name string) []byte {
	t.Helper()
	var certPEM []byte
	Eventually(t, 30*time.Second, name+" to be issued", func() bool {
		certPEM = IssuedCertificate(t, kubeconfig, name)
		return len(certPEM) > 0
	})
	return certPEM
}

// Chunk splits s into lines of n characters, as base64 tools wrap their output.
func Chunk(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// IssueClientCert has the administrator (kubeconfig) create a one-hour client
// certificate CSR name for CN=name, O=orgs, approve it, and wait for it: the certificate
// is written to dir/name.crt, its key to dir/name.key. It returns the certificate's path.
func IssueClientCert(t testing.TB, kubeconfig, dir, name string, orgs ...string) string {
	t.Helper()
	req := GoCSR(t, dir, name, name, orgs, nil, nil)
	MustKubectl(t, kubeconfig, "create", "-f", WriteFile(t, dir, name+".yaml", CSRManifest(name, req, "kubernetes.io/kube-apiserver-client", 3600, "client auth")))
	MustKubectl(t, kubeconfig, "certificate", "approve", name)
	return WriteFile(t, dir, name+".crt", string(WaitIssued(t, kubeconfig, name)))
}

// SeedWalkthrough does the seed's walkthrough up to the certificate, as an administrator
// with kubeconfig: an openssl key and request for CN=myuser, O=dev-team in dir, `kubectl
// apply` of the seed's manifest (CSR myuser, kube-apiserver-client, 24 h, client auth),
// `kubectl certificate approve myuser`, then the wait for the certificate, returned PEM.
func SeedWalkthrough(t testing.TB, kubeconfig, dir string) []byte {
	t.Helper()
	request := OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	MustKubectl(t, kubeconfig, "apply", "-f", WriteFile(t, dir, "csr.yaml", CSRManifest("myuser", request, "kubernetes.io/kube-apiserver-client", 86400, "client auth")))
	MustKubectl(t, kubeconfig, "certificate", "approve", "myuser")
	return WaitIssued(t, kubeconfig, "myuser")
}
