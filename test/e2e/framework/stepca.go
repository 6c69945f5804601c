package framework

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"kcsr.dev/kcsr/pkg/testkit"
)

// StepCAVersion is the step-ca hack/build-step-ca.sh builds.
const StepCAVersion = "v0.30.2"

// StepCABinary is hack/build-step-ca.sh's step-ca: missing, the test fails in CI and is
// skipped elsewhere.
func StepCABinary(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KCSR_STEPCA_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".cache", "step-ca", StepCAVersion)
	}
	bin := filepath.Join(dir, "bin", "step-ca")
	RequireBuilt(t, bin, "hack/build-step-ca.sh", "step-ca "+StepCAVersion)
	return bin
}

// StepCA is a real step-ca with a root and an intermediate made by the test, and one JWK
// provisioner whose template keeps a request's subject and names (step-ca's default
// keeps only the CN) and gives client auth.
type StepCA struct {
	t      testing.TB
	Dir    string
	URL    string
	Config string
	// RootsFile is the root (PEM); ProvisionerKeyFile the provisioner's private JWK.
	RootsFile, ProvisionerKeyFile string
	Provisioner                   string
	Root, Intermediate            *testkit.CA
	proc                          *Process
}

// stepCATemplate keeps the request's subject and SANs; usages fixed to client auth.
const stepCATemplate = `{"subject": {{ toJson .Insecure.CR.Subject }}, "dnsNames": {{ toJson .Insecure.CR.DNSNames }}, "emailAddresses": {{ toJson .Insecure.CR.EmailAddresses }}, "ipAddresses": {{ toJson .Insecure.CR.IPAddresses }}, "uris": {{ toJson .Insecure.CR.URIs }}, "keyUsage": ["digitalSignature"], "extKeyUsage": ["clientAuth"]}`

// StartStepCA writes a CA's files and ca.json in a new directory and starts step-ca on a
// free loopback port.
func StartStepCA(t testing.TB) *StepCA {
	t.Helper()
	StepCABinary(t) // fail or skip before making anything
	dir := t.TempDir()
	s := &StepCA{t: t, Dir: dir, Provisioner: "kcsr"}
	s.Root = testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("step test root"), testkit.ValidBetween(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)))
	s.Intermediate = s.Root.NewIntermediate(t, testkit.NewKey(t, testkit.P256), testkit.Named("step test intermediate"), testkit.ValidBetween(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)))
	s.RootsFile = WriteFile(t, dir, "root_ca.crt", string(s.Root.CertPEM))
	crt := WriteFile(t, dir, "intermediate_ca.crt", string(s.Intermediate.CertPEM))
	key := WriteFile(t, dir, "intermediate_ca_key", string(s.Intermediate.KeyPEM))
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}

	// The provisioner: a P-256 JWK; step-ca holds the public half, kcsr the private one.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: string(jose.ES256), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(thumb)
	privJSON, err := json.Marshal(jwk)
	if err != nil {
		t.Fatal(err)
	}
	s.ProvisionerKeyFile = filepath.Join(dir, "provisioner.jwk")
	if err := os.WriteFile(s.ProvisionerKeyFile, privJSON, 0o600); err != nil {
		t.Fatal(err)
	}

	port := FreePort(t)
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	config := map[string]any{
		"root": s.RootsFile, "crt": crt, "key": key,
		"address":  fmt.Sprintf("127.0.0.1:%d", port),
		"dnsNames": []string{"127.0.0.1", "localhost"},
		"logger":   map[string]any{"format": "text"},
		"db":       map[string]any{"type": "badgerv2", "dataSource": filepath.Join(dir, "db")},
		"tls":      map[string]any{"minVersion": 1.2, "maxVersion": 1.3},
		"crl":      map[string]any{"enabled": true, "generateOnRevoke": true},
		"authority": map[string]any{
			"claims": map[string]any{"minTLSCertDuration": "5m", "maxTLSCertDuration": "24h", "defaultTLSCertDuration": "1h"},
			"provisioners": []any{map[string]any{
				"type": "JWK", "name": s.Provisioner, "key": jwk.Public(),
				"options": map[string]any{"x509": map[string]any{"template": stepCATemplate}},
			}},
		},
	}
	data, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	s.Config = WriteFile(t, dir, "ca.json", string(data))
	s.Start()
	return s
}

// Start starts step-ca (again, after Stop) and waits for its /health.
func (s *StepCA) Start() {
	s.t.Helper()
	s.proc = StartProcess(s.t, StepCABinary(s.t), s.Config)
	client := s.client(2 * time.Second)
	Eventually(s.t, time.Minute, "step-ca to answer /health", func() bool {
		if s.proc.Exited() {
			s.t.Fatalf("step-ca exited:\n%s\n%s", s.proc.Stdout(), s.proc.Stderr())
		}
		res, err := client.Get(s.URL + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// CRL is step-ca's current CRL (GET /1.0/crl).
func (s *StepCA) CRL() *x509.RevocationList {
	s.t.Helper()
	res, err := s.client(10 * time.Second).Get(s.URL + "/1.0/crl")
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	der, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		s.t.Fatalf("step-ca's CRL: %v (%d %q)", err, res.StatusCode, der)
	}
	return crl
}

// client is an HTTPS client that trusts the CA's root.
func (s *StepCA) client(timeout time.Duration) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.Root.Cert)
	return &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Stop stops step-ca.
func (s *StepCA) Stop() {
	s.t.Helper()
	s.proc.Signal(os.Interrupt)
	s.proc.Wait(30 * time.Second)
}

// Logs are what step-ca printed.
func (s *StepCA) Logs() string { return s.proc.Stdout() + s.proc.Stderr() }
