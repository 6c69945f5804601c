package framework

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// CACertPath and CAKeyPath are the cluster CA's files in the server's data directory.
func (s *Server) CACertPath() string { return filepath.Join(s.DataDir, "pki", "ca.crt") }
func (s *Server) CAKeyPath() string  { return filepath.Join(s.DataDir, "pki", "ca.key") }

// ClientCert makes dir/NAME.key (ECDSA P-256) and a certificate dir/NAME.crt for subj (e.g.
// "/CN=alice/O=dev") signed by the server's CA with openssl, as an administrator does by hand:
// `openssl x509 -req -CA ca.crt -CAkey ca.key -days 1 -extfile EXT` with
// extendedKeyUsage=clientAuth. It returns the two paths.
func (s *Server) ClientCert(t testing.TB, dir, name, subj string) (certPath, keyPath string) {
	t.Helper()
	return SignedCert(t, dir, name, subj, s.CACertPath(), s.CAKeyPath(), "extendedKeyUsage=clientAuth", 1)
}

// SignedCert makes dir/NAME.key (ECDSA P-256) and dir/NAME.crt for subj, signed with openssl by the given
// CA, with the extension lines of ext and a validity of days (may be negative: an expired
// certificate). The serial number is random; nothing is written next to the CA.
func SignedCert(t testing.TB, dir, name, subj, caCert, caKey, ext string, days int) (certPath, keyPath string) {
	t.Helper()
	keyPath, certPath = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	csrPath, extPath := filepath.Join(dir, name+".csr"), filepath.Join(dir, name+".ext")
	if err := os.WriteFile(extPath, []byte(ext+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatal(err)
	}
	Openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath)
	Openssl(t, dir, "req", "-new", "-key", keyPath, "-out", csrPath, "-subj", subj)
	Openssl(t, dir, "x509", "-req", "-in", csrPath, "-CA", caCert, "-CAkey", caKey,
		"-set_serial", fmt.Sprintf("0x%x", serial), "-days", fmt.Sprint(days), "-extfile", extPath, "-out", certPath)
	return certPath, keyPath
}

// OpensslECCSR is OpensslCSR with an ECDSA P-256 key (`openssl genpkey`), a hundred times
// quicker to make than the seed's RSA 2048 key: for tests that need many CSRs.
func OpensslECCSR(t testing.TB, dir, name, subj string) string {
	t.Helper()
	Openssl(t, dir, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", name+".key")
	Openssl(t, dir, "req", "-new", "-key", name+".key", "-out", name+".csr", "-subj", subj)
	pem, err := os.ReadFile(filepath.Join(dir, name+".csr"))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem)
}

// SelfSignedCA makes a CA (dir/NAME.crt, dir/NAME.key) that the server does not trust.
func SelfSignedCA(t testing.TB, dir, name string) (certPath, keyPath string) {
	t.Helper()
	keyPath, certPath = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	Openssl(t, dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN="+name,
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return certPath, keyPath
}

// SHA256Fingerprint is `openssl x509 -noout -fingerprint -sha256` of the certificate,
// without the colons, in lower case: the hex kube-apiserver puts in X509SHA256=….
func SHA256Fingerprint(t testing.TB, certPath string) string {
	t.Helper()
	out := strings.TrimSpace(Openssl(t, filepath.Dir(certPath), "x509", "-noout", "-fingerprint", "-sha256", "-in", certPath))
	_, fp, ok := strings.Cut(out, "=")
	if !ok {
		t.Fatalf("openssl fingerprint output %q has no '='", out)
	}
	return strings.ToLower(strings.ReplaceAll(fp, ":", ""))
}

// UserKubeconfig writes dir/NAME.kubeconfig for the server with `kubectl config
// set-cluster/set-credentials/set-context/use-context`, certificates embedded. credArgs are
// the set-credentials flags: --client-certificate C --client-key K, or --token T.
func (s *Server) UserKubeconfig(t testing.TB, dir, name string, credArgs ...string) string {
	t.Helper()
	kc := filepath.Join(dir, name+".kubeconfig")
	MustKubectl(t, kc, "config", "set-cluster", "kcsr", "--server", s.URL, "--certificate-authority", s.CACertPath(), "--embed-certs")
	setCredentials := append([]string{"config", "set-credentials", name}, credArgs...)
	if slices.Contains(credArgs, "--client-certificate") {
		setCredentials = append(setCredentials, "--embed-certs")
	}
	MustKubectl(t, kc, setCredentials...)
	MustKubectl(t, kc, "config", "set-context", name, "--cluster", "kcsr", "--user", name)
	MustKubectl(t, kc, "config", "use-context", name)
	return kc
}

// HTTPClient is an HTTPS client that trusts the server's CA and, when certPath is not empty,
// presents that client certificate whatever CAs the server asks for (so a certificate from
// another CA really reaches the server).
func (s *Server) HTTPClient(t testing.TB, certPath, keyPath string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(s.CACertPath())
	if err != nil {
		t.Fatal(err)
	}
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", s.CACertPath())
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certPath != "" {
		pair, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// Signal sends sig to the server process.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %v to kcsr server: %v", sig, err)
	}
}

// WaitExit waits up to timeout for the server process to exit and reports whether it did.
func (s *Server) WaitExit(timeout time.Duration) bool {
	select {
	case <-s.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// ExitCode is the exit code of the server process once it has exited; -1 while it runs or
// when a signal ended it.
func (s *Server) ExitCode() int {
	select {
	case <-s.done:
		return s.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}
