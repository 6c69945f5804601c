package framework

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
)

// VaultVersion is the Vault hack/build-vault.sh builds.
const VaultVersion = "v1.21.0"

// vaultDir is where hack/build-vault.sh puts Vault and its plugins.
func vaultDir() string {
	if dir := os.Getenv("KCSR_VAULT_DIR"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), ".cache", "vault", VaultVersion+"-minimal")
}

// VaultBinary is hack/build-vault.sh's vault: missing, the test fails in CI and is skipped
// elsewhere.
func VaultBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(vaultDir(), "bin", "vault")
	RequireBuilt(t, bin, "hack/build-vault.sh", "Vault "+VaultVersion)
	return bin
}

// Vault is a real Vault dev server (in memory, TLS on loopback with the certificate and
// CA that -dev-tls makes) with a PKI mount "pki" holding a generated EC root, the AppRole
// auth method, and a policy "kcsr-signer" that allows sign-verbatim, the roles' sign
// paths and revoke on the mount and nothing else.
type Vault struct {
	t         testing.TB
	Dir       string
	Address   string
	RootToken string
	// CAFile is the CA of Vault's TLS certificate (PEM).
	CAFile string
	// RootsFile is the mount's root certificate (PEM); Root the same, parsed.
	RootsFile string
	Root      *x509.Certificate
	// RoleID and SecretIDFile are an AppRole login with the kcsr-signer policy.
	RoleID, SecretIDFile string
	unsealKey            string
	proc                 *Process
}

// VaultPolicy is the policy kcsr's Vault tokens get.
const VaultPolicy = "kcsr-signer"

// StartVault starts `vault server -dev` on a free loopback port and sets it up.
func StartVault(t testing.TB) *Vault {
	t.Helper()
	bin := VaultBinary(t)
	v := &Vault{t: t, Dir: t.TempDir(), RootToken: "kcsr-test-root"}
	port := FreePort(t)
	v.Address = fmt.Sprintf("https://127.0.0.1:%d", port)
	tlsDir := filepath.Join(v.Dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	v.CAFile = filepath.Join(tlsDir, "vault-ca.pem")
	v.proc = StartProcess(t, bin, "server", "-dev", "-dev-root-token-id="+v.RootToken,
		fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port), "-dev-no-store-token",
		"-dev-tls", "-dev-tls-cert-dir="+tlsDir,
		"-dev-plugin-dir="+filepath.Join(vaultDir(), "plugins"))
	unsealKey := regexp.MustCompile(`Unseal Key: (\S+)`)
	Eventually(t, time.Minute, "vault to be unsealed and print its unseal key", func() bool {
		if v.proc.Exited() {
			t.Fatalf("vault exited:\n%s\n%s", v.proc.Stdout(), v.proc.Stderr())
		}
		status, _ := v.call(http.MethodGet, "/v1/sys/health", v.RootToken, nil)
		m := unsealKey.FindStringSubmatch(v.proc.Stdout())
		if m != nil {
			v.unsealKey = m[1]
		}
		return status == http.StatusOK && m != nil
	})

	v.Must(http.MethodPost, "/v1/sys/mounts/pki", map[string]any{"type": "pki", "config": map[string]any{"max_lease_ttl": "87600h"}})
	root := v.Must(http.MethodPost, "/v1/pki/root/generate/internal", map[string]any{"common_name": "vault test root", "key_type": "ec", "ttl": "8760h"})
	rootPEM, _ := root["data"].(map[string]any)["certificate"].(string)
	v.RootsFile = WriteFile(t, v.Dir, "vault-root.crt", rootPEM+"\n")
	var err error
	if v.Root, err = pemutil.FirstCertificate([]byte(rootPEM)); err != nil {
		t.Fatalf("vault's root: %v", err)
	}
	v.Must(http.MethodPut, "/v1/sys/policies/acl/"+VaultPolicy, map[string]any{
		"policy": `path "pki/sign-verbatim" { capabilities = ["update"] }
path "pki/sign/*" { capabilities = ["update"] }
path "pki/revoke" { capabilities = ["update"] }
`})
	v.Must(http.MethodPost, "/v1/sys/auth/approle", map[string]any{"type": "approle"})
	v.Must(http.MethodPost, "/v1/auth/approle/role/kcsr", map[string]any{"token_policies": []string{VaultPolicy}, "token_ttl": "20m", "token_max_ttl": "1h"})
	v.RoleID = v.Must(http.MethodGet, "/v1/auth/approle/role/kcsr/role-id", nil)["data"].(map[string]any)["role_id"].(string)
	secretID := v.Must(http.MethodPost, "/v1/auth/approle/role/kcsr/secret-id", nil)["data"].(map[string]any)["secret_id"].(string)
	v.SecretIDFile = v.writeSecret("secret-id", secretID)
	return v
}

// EnableKubernetesAuth enables the Kubernetes auth method (hack/build-vault.sh's
// plugin) at auth/kubernetes, checking service account tokens with the TokenReview of
// the API server at host (its serving CA in caPEM), and a role "kcsr" for the service
// account namespace/name with the kcsr-signer policy.
func (v *Vault) EnableKubernetesAuth(host string, caPEM []byte, namespace, name string) {
	v.t.Helper()
	plugin := filepath.Join(vaultDir(), "plugins", "vault-plugin-auth-kubernetes")
	data, err := os.ReadFile(plugin)
	if err != nil {
		v.t.Fatalf("%v: run hack/build-vault.sh", err)
	}
	v.Must(http.MethodPut, "/v1/sys/plugins/catalog/auth/kubernetes", map[string]any{"sha256": fmt.Sprintf("%x", sha256.Sum256(data)), "command": filepath.Base(plugin)})
	v.Must(http.MethodPost, "/v1/sys/auth/kubernetes", map[string]any{"type": "kubernetes"})
	v.Must(http.MethodPost, "/v1/auth/kubernetes/config", map[string]any{"kubernetes_host": host, "kubernetes_ca_cert": string(caPEM), "disable_local_ca_jwt": true})
	v.Must(http.MethodPost, "/v1/auth/kubernetes/role/kcsr", map[string]any{
		"bound_service_account_names": []string{name}, "bound_service_account_namespaces": []string{namespace},
		"token_policies": []string{VaultPolicy}, "token_ttl": "20m",
	})
}

// TokenFile writes a new token with the kcsr-signer policy, valid for ttl, to a 0600
// file named name and returns its path.
func (v *Vault) TokenFile(name string, ttl time.Duration) string {
	v.t.Helper()
	answer := v.Must(http.MethodPost, "/v1/auth/token/create", map[string]any{"policies": []string{VaultPolicy}, "ttl": ttl.String(), "no_parent": true})
	return v.writeSecret(name, answer["auth"].(map[string]any)["client_token"].(string))
}

// writeSecret writes data to a 0600 file named name.
func (v *Vault) writeSecret(name, data string) string {
	p := filepath.Join(v.Dir, name)
	if err := os.WriteFile(p, []byte(data+"\n"), 0o600); err != nil {
		v.t.Fatal(err)
	}
	return p
}

// Seal seals Vault (sys/seal): it answers 503 until Unseal.
func (v *Vault) Seal() { v.t.Helper(); v.Must(http.MethodPut, "/v1/sys/seal", nil) }

// Unseal unseals Vault with the dev server's key.
func (v *Vault) Unseal() {
	v.t.Helper()
	v.Must(http.MethodPut, "/v1/sys/unseal", map[string]any{"key": v.unsealKey})
}

// Revoked reports whether Vault's CRL for the mount lists serial.
func (v *Vault) Revoked(cert *x509.Certificate) bool {
	v.t.Helper()
	status, body := v.call(http.MethodGet, "/v1/pki/crl", "", nil)
	if status != http.StatusOK {
		v.t.Fatalf("GET /v1/pki/crl: %d %s", status, body)
	}
	crl, err := x509.ParseRevocationList(body)
	if err != nil {
		v.t.Fatalf("vault's CRL: %v", err)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// Logs are what Vault printed.
func (v *Vault) Logs() string { return v.proc.Stdout() + v.proc.Stderr() }

// Must calls Vault's API as root and returns the decoded answer; any status but 2xx
// fails the test.
func (v *Vault) Must(method, path string, body map[string]any) map[string]any {
	v.t.Helper()
	status, data := v.call(method, path, v.RootToken, body)
	if status/100 != 2 {
		v.t.Fatalf("vault %s %s: %d %s", method, path, status, data)
	}
	out := map[string]any{}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			v.t.Fatalf("vault %s %s: %v: %s", method, path, err, data)
		}
	}
	return out
}

func (v *Vault) call(method, path, token string, body map[string]any) (int, []byte) {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			v.t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, v.Address+path, r)
	if err != nil {
		v.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	pool := x509.NewCertPool()
	if ca, err := os.ReadFile(v.CAFile); err == nil {
		pool.AppendCertsFromPEM(ca)
	}
	res, err := (&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}
