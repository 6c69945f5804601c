package upstream

import (
	"context"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestNewVault: the files a Vault signer needs, and what is said when one is wrong;
// nothing is asked of Vault until a request is signed.
func TestNewVault(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string { return testkit.WriteFile(t, name, data, mode) }
	roots := write("root.crt", testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).CertPEM, 0o644)
	token := write("token", []byte("hvs.x\n"), 0o600)
	cfg := func(rootsFile string, auth VaultAuth) *VaultConfig {
		return &VaultConfig{Address: "http://127.0.0.1:1", Mount: "pki", RootsFile: rootsFile, Auth: auth}
	}
	v, err := NewVault(cfg(roots, VaultAuth{TokenFile: token}))
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != "Vault http://127.0.0.1:1 (pki)" || len(v.Roots()) != 1 {
		t.Errorf("name %q, %d roots", v.Name(), len(v.Roots()))
	}
	for name, tc := range map[string]struct {
		cfg  *VaultConfig
		want string
	}{
		"missing roots":         {cfg(filepath.Join(dir, "nope.crt"), VaultAuth{TokenFile: token}), "rootsFile: open"},
		"roots not PEM":         {cfg(write("bad.crt", []byte("x"), 0o644), VaultAuth{TokenFile: token}), "holds no PEM certificate"},
		"token file readable":   {cfg(roots, VaultAuth{TokenFile: write("open-token", []byte("t"), 0o644)}), "auth.tokenFile"},
		"token file missing":    {cfg(roots, VaultAuth{TokenFile: filepath.Join(dir, "none")}), "auth.tokenFile: stat"},
		"secret ID readable":    {cfg(roots, VaultAuth{AppRole: &VaultAppRole{RoleID: "r", SecretIDFile: write("open-secret", []byte("s"), 0o640)}}), "auth.appRole.secretIDFile"},
		"an invalid config":     {&VaultConfig{}, "address \"\" is not an https://HOST:PORT URL"},
		"CA file for TLS wrong": {&VaultConfig{Address: "https://vault:8200", CAFile: filepath.Join(dir, "none"), Mount: "pki", RootsFile: roots, Auth: VaultAuth{TokenFile: token}}, "caFile"},
	} {
		if _, err := NewVault(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error containing %q", name, err, tc.want)
		}
	}
}

// TestVaultUsages: Kubernetes usages as sign-verbatim's names.
func TestVaultUsages(t *testing.T) {
	ku, eku, err := vaultUsages([]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ku, []string{"DigitalSignature", "KeyEncipherment"}) || !slices.Equal(eku, []string{"ServerAuth", "ClientAuth"}) && !slices.Equal(eku, []string{"ClientAuth", "ServerAuth"}) {
		t.Errorf("key_usage %v, ext_key_usage %v", ku, eku)
	}
	if _, _, err := vaultUsages([]certificatesv1.KeyUsage{"root"}); err == nil {
		t.Error("an unknown usage was accepted")
	}
}

// TestColonHex: serials as Vault writes them.
func TestColonHex(t *testing.T) {
	for in, want := range map[string]string{"0": "00", "1": "01", "65535": "ff:ff", "4660": "12:34"} {
		n, _ := new(big.Int).SetString(in, 10)
		if got := colonHex(n); got != want {
			t.Errorf("colonHex(%s) = %q; want %q", in, got, want)
		}
	}
}

// TestVaultProblems: Vault's multi-error strings become one line.
func TestVaultProblems(t *testing.T) {
	for in, want := range map[string][]string{
		"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n": {"permission denied", "invalid token"},
		"1 error occurred:\n\t* permission denied\n\n":                     {"permission denied"},
		"Vault is sealed": {"Vault is sealed"},
	} {
		if got := vaultProblems(in); !slices.Equal(got, want) {
			t.Errorf("vaultProblems(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestVaultIgnoresEnvironment: VAULT_SKIP_VERIFY, VAULT_CACERT, VAULT_AGENT_ADDR,
// VAULT_HEADERS and VAULT_TOKEN do not weaken or replace the configuration: a Vault whose TLS certificate caFile does not
// vouch for is refused, and nothing is sent with the environment's token.
func TestVaultIgnoresEnvironment(t *testing.T) {
	var sawToken atomic.Bool
	server := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken.Store(sawToken.Load() || r.Header.Get("X-Vault-Token") == "from-env" || r.Header.Get("X-From-Env") != "")
		w.WriteHeader(http.StatusForbidden)
	}))
	defer server.Close()
	dir := t.TempDir()
	serverCA := filepath.Join(dir, "server-ca.pem")
	if err := os.WriteFile(serverCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_SKIP_VERIFY", "true")
	t.Setenv("VAULT_CACERT", serverCA)
	t.Setenv("VAULT_TOKEN", "from-env")
	t.Setenv("VAULT_HEADERS", `{"X-From-Env": "yes"}`)
	var agentHit atomic.Bool
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agentHit.Store(true)
		w.WriteHeader(http.StatusForbidden)
	}))
	defer agent.Close()
	roots := filepath.Join(dir, "root.crt")
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(roots, testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(token, []byte("from-file"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherCA := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherCA, testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	req := testkit.ParsedRequest(t, testkit.Request(t, "alice"))
	for _, caFile := range []string{otherCA, "", serverCA} { // "": the system's roots
		t.Setenv("VAULT_AGENT_ADDR", agent.URL)
		v, err := NewVault(&VaultConfig{Address: server.URL, CAFile: caFile, Mount: "pki", RootsFile: roots, Auth: VaultAuth{TokenFile: token}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Sign(context.Background(), req, []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}, time.Hour)
		want := "certificate signed by unknown authority"
		if caFile == serverCA {
			want = "403 Forbidden" // reached the server, with the file's token only
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("caFile %q: Sign: %v; want an error containing %q", caFile, err, want)
		}
	}
	if sawToken.Load() {
		t.Error("the environment's VAULT_TOKEN reached the server")
	}
	if agentHit.Load() {
		t.Error("the request went to VAULT_AGENT_ADDR instead of the configured address")
	}
}
