package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// controlPlane is one `kcsr server` shared by the subtests of TestControlPlane: started with
// a static token file and an audit policy, so that authentication, RBAC, admission, audit and
// discovery are all checked against one process (each start costs seconds). Subtests use
// their own users and CSR names, so they do not interfere.
type controlPlane struct {
	s        *framework.Server
	admin    string // admin kubeconfig
	auditLog string
}

// Static tokens in kube-apiserver's CSV format: token,user,uid,"group1,group2".
const (
	bobToken     = "bob-7c1d0e5f3a9b"     // TestControlPlane/Authentication
	daveToken    = "dave-2e8f41c6d07a"    // TestControlPlane/Audit: a requester
	malloryToken = "mallory-5b93aa1f6c2e" // TestControlPlane/Audit: no grants at all
	tokenFile    = bobToken + `,bob,uid-bob,"ops,auditors"` + "\n" +
		daveToken + ",dave,uid-dave,dev\n" +
		malloryToken + ",mallory,uid-mallory\n"
)

// auditPolicy: Metadata for CSRs and their status, RequestResponse for their approval
// subresource, nothing else. The first matching rule wins, so the subresource rule comes
// first.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: RequestResponse
  resources:
  - group: certificates.k8s.io
    resources: ["certificatesigningrequests/approval"]
- level: Metadata
  resources:
  - group: certificates.k8s.io
    resources: ["certificatesigningrequests", "certificatesigningrequests/status"]
- level: None
`

// TestControlPlane covers issue 2's API surface beyond the CSR strategies: RBAC (acceptance
// b), escalation checks, authentication, audit, health, discovery and older kubectl
// releases, on one shared server.
func TestControlPlane(t *testing.T) {
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.log")
	s := framework.StartServer(t, "",
		"--token-auth-file", framework.WriteFile(t, dir, "tokens.csv", tokenFile),
		"--audit-log-path", auditLog,
		"--audit-policy-file", framework.WriteFile(t, dir, "audit-policy.yaml", auditPolicy),
	)
	cp := &controlPlane{s: s, admin: s.Kubeconfig, auditLog: auditLog}

	t.Run("RBACAcceptance", func(t *testing.T) { testRBACAcceptance(t, cp) })
	t.Run("SignerWildcard", func(t *testing.T) { testSignerWildcard(t, cp) })
	t.Run("RBACEscalation", func(t *testing.T) { testRBACEscalation(t, cp) })
	t.Run("Authentication", func(t *testing.T) { testAuthentication(t, cp) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, cp) })
	t.Run("Health", func(t *testing.T) { testHealth(t, cp) })
	t.Run("Discovery", func(t *testing.T) { testDiscovery(t, cp) })
	t.Run("GetOutputs", func(t *testing.T) { testGetOutputs(t, cp) })
	t.Run("OlderKubectl", func(t *testing.T) { testOlderKubectl(t, cp) })
	// Last: it checks that every subtest's traffic went through the audit policy.
	t.Run("AuditPolicyNone", func(t *testing.T) { testAuditPolicyNone(t, cp) })
}

// certUser is a user authenticated by a client certificate from the cluster CA.
type certUser struct {
	name, cert, key, kubeconfig string
}

// newCertUser makes a key, a certificate signed by the server's CA with openssl and a
// kubeconfig with everything embedded.
func (cp *controlPlane) newCertUser(t *testing.T, dir, name, subj string) certUser {
	t.Helper()
	cert, key := cp.s.ClientCert(t, dir, name, subj)
	kc := cp.s.UserKubeconfig(t, dir, name, "--client-certificate", cert, "--client-key", key)
	return certUser{name: name, cert: cert, key: key, kubeconfig: kc}
}

// createCSRAs creates a CSR for a fresh ECDSA key (CN=name, O=dev) with kubectl as the user
// of kubeconfig and returns kubectl's outcome and the manifest path.
func createCSRAs(t *testing.T, dir, kubeconfig, name, signer string) (framework.Result, string) {
	t.Helper()
	request := framework.OpensslECCSR(t, dir, name, "/CN="+name+"/O=dev")
	path := framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, request, signer, 86400, "client auth"))
	return framework.Kubectl(t, kubeconfig, "create", "-f", path), path
}

// mustCreateCSRAs is createCSRAs that fails the test when kubectl does.
func mustCreateCSRAs(t *testing.T, dir, kubeconfig, name, signer string) {
	t.Helper()
	if r, _ := createCSRAs(t, dir, kubeconfig, name, signer); r.ExitCode != 0 {
		t.Fatalf("create CSR %s: exit %d\n%s", name, r.ExitCode, r.Combined())
	}
}

// getCSR reads a CSR as the admin.
func (cp *controlPlane) getCSR(t *testing.T, name string) certificatesv1.CertificateSigningRequest {
	t.Helper()
	var csr certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, cp.admin, "get", "csr", name, "-o", "json")), &csr); err != nil {
		t.Fatalf("decode CSR %s: %v", name, err)
	}
	return csr
}

// conditionTypes lists the CSR's condition types in order.
func conditionTypes(csr certificatesv1.CertificateSigningRequest) []string {
	var types []string
	for _, c := range csr.Status.Conditions {
		types = append(types, string(c.Type))
	}
	return types
}

// wantStderr checks a failed kubectl run against the exact text Kubernetes prints.
func wantStderr(t *testing.T, what string, r framework.Result, want string) {
	t.Helper()
	if r.ExitCode == 0 {
		t.Errorf("%s: succeeded, want failure %q\n%s", what, want, r.Combined())
		return
	}
	if got := strings.TrimSpace(r.Stderr); got != want {
		t.Errorf("%s: stderr\n got: %s\nwant: %s", what, got, want)
	}
}

// wantStdout checks a successful kubectl run's output.
func wantStdout(t *testing.T, what string, r framework.Result, want string) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Errorf("%s: exit %d, want success printing %q\n%s", what, r.ExitCode, want, r.Combined())
		return
	}
	if got := strings.TrimSpace(r.Stdout); got != want {
		t.Errorf("%s: stdout\n got: %s\nwant: %s", what, got, want)
	}
}

// httpGet does a GET and returns the status code and body.
func httpGet(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}
