package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

const clientSigner = "kubernetes.io/kube-apiserver-client"

// TestSeedWalkthrough follows the seed's walkthrough verbatim with real openssl and kubectl.
func TestSeedWalkthrough(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig

	// A watch started before anything happens must stream the changes.
	watchOut := framework.KubectlWatch(t, kc, "get", "csr", "-w")

	request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	manifest := framework.CSRManifest("myuser", request, clientSigner, 86400, "client auth")
	framework.WriteFile(t, dir, "csr.yaml", manifest)

	out := framework.MustKubectl(t, kc, "apply", "-f", filepath.Join(dir, "csr.yaml"))
	if want := "certificatesigningrequest.certificates.k8s.io/myuser created"; strings.TrimSpace(out) != want {
		t.Errorf("first apply printed %q, want %q", out, want)
	}
	out = framework.MustKubectl(t, kc, "apply", "-f", filepath.Join(dir, "csr.yaml"))
	if want := "certificatesigningrequest.certificates.k8s.io/myuser unchanged"; strings.TrimSpace(out) != want {
		t.Errorf("second apply printed %q, want %q", out, want)
	}

	rows := framework.TableRows(framework.MustKubectl(t, kc, "get", "csr"))
	wantHeader := []string{"NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"}
	if len(rows) != 2 || strings.Join(rows[0], " ") != strings.Join(wantHeader, " ") {
		t.Fatalf("kubectl get csr:\n%v\nwant header %v and one row", rows, wantHeader)
	}
	if got := rows[1]; got[0] != "myuser" || got[2] != clientSigner || got[3] != "kcsr-admin" || got[4] != "24h" || got[5] != "Pending" {
		t.Errorf("row = %v, want myuser … %s kcsr-admin 24h Pending", got, clientSigner)
	}

	out = framework.MustKubectl(t, kc, "certificate", "approve", "myuser")
	if want := "certificatesigningrequest.certificates.k8s.io/myuser approved"; strings.TrimSpace(out) != want {
		t.Errorf("approve printed %q, want %q", out, want)
	}
	if cond := condition(t, kc, "myuser"); !strings.HasPrefix(cond, "Approved") {
		t.Errorf("condition after approve = %q, want Approved…", cond)
	}
	reason := framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", `jsonpath={.status.conditions[0].reason}`)
	if reason != "KubectlApprove" {
		t.Errorf("Approved reason = %q, want KubectlApprove", reason)
	}

	describe := framework.MustKubectl(t, kc, "describe", "csr", "myuser")
	for _, want := range []string{"Requesting User:     kcsr-admin", "Signer:              " + clientSigner, "Requested Duration:  24h", "Common Name:    myuser", "Organization:   dev-team"} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe csr lacks %q:\n%s", want, describe)
		}
	}

	// Deny another one; then approving the denied one must fail as in Kubernetes.
	request2 := framework.OpensslCSR(t, dir, "other", "/CN=other/O=dev-team")
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "other.yaml", framework.CSRManifest("other", request2, clientSigner, 86400, "client auth")))
	out = framework.MustKubectl(t, kc, "certificate", "deny", "other")
	if want := "certificatesigningrequest.certificates.k8s.io/other denied"; strings.TrimSpace(out) != want {
		t.Errorf("deny printed %q, want %q", out, want)
	}
	if cond := condition(t, kc, "other"); cond != "Denied" {
		t.Errorf("condition after deny = %q, want Denied", cond)
	}
	r := framework.Kubectl(t, kc, "certificate", "approve", "other")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificate signing request "other" is already Denied`) {
		t.Errorf("approving a denied CSR: exit %d, %q; want failure 'is already Denied'", r.ExitCode, r.Combined())
	}

	framework.Eventually(t, 10*time.Second, "the watch to stream Approved and Denied", func() bool {
		w := watchOut.String()
		return strings.Contains(w, "Approved") && strings.Contains(w, "Denied") && strings.Contains(w, "Pending")
	})
}

// TestCreateRejections: every malformed request is refused at create with a 4xx that names
// the field, and nothing is stored.
func TestCreateRejections(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	good := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	masters := framework.OpensslCSR(t, dir, "masters", "/CN=evil/O=system:masters")
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "user.key"))
	csrPEM, _ := os.ReadFile(filepath.Join(dir, "user.csr"))

	// The seed's classic mistake: base64 wrapped at 76 columns, pasted under `request:`;
	// YAML folds the lines into spaces.
	wrapped := strings.Join(framework.Chunk(base64.StdEncoding.EncodeToString(csrPEM), 76), "\n    ")
	// A signature that no longer verifies: flip a byte inside the signature.
	corrupted := framework.CorruptSignature(t, csrPEM)

	cases := []struct {
		name, request, signer string
		expiration            int
		usages                []string
		wantAll               []string
	}{
		{"masters", masters, clientSigner, 86400, []string{"client auth"},
			[]string{"Forbidden", "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"}},
		{"wrapped", wrapped, clientSigner, 86400, []string{"client auth"},
			[]string{"spec.request", "base64"}},
		{"wrongpem", base64.StdEncoding.EncodeToString(keyPEM), clientSigner, 86400, []string{"client auth"},
			[]string{"spec.request", `Invalid value: "<private key omitted>"`, "found a private key; never send a private key"}},
		{"badsig", corrupted, clientSigner, 86400, []string{"client auth"},
			[]string{"spec.request", "verification error"}},
		{"short", good, clientSigner, 599, []string{"client auth"},
			[]string{"spec.expirationSeconds", "may not specify a duration less than 600 seconds (10 minutes)"}},
		{"badusage", good, clientSigner, 86400, []string{"client-auth"},
			[]string{"spec.usages[0]", `Unsupported value: "client-auth"`}},
		{"badsigner", good, "notasigner", 86400, []string{"client auth"},
			[]string{"spec.signerName", "must be a fully qualified domain and path of the form 'example.com/signer-name'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, tc.request, tc.signer, tc.expiration, tc.usages...))
			r := framework.Kubectl(t, kc, "create", "-f", path)
			if r.ExitCode == 0 {
				t.Fatalf("create succeeded; want a refusal\n%s", r.Combined())
			}
			for _, want := range tc.wantAll {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("error lacks %q:\n%s", want, r.Stderr)
				}
			}
			if strings.Contains(r.Stderr, "PRIVATE KEY") || strings.Contains(r.Stderr, base64.StdEncoding.EncodeToString(keyPEM)[:40]) {
				t.Errorf("the error echoes private key material back:\n%s", r.Stderr)
			}
			if g := framework.Kubectl(t, kc, "get", "csr", tc.name); g.ExitCode == 0 || !strings.Contains(g.Stderr, "NotFound") {
				t.Errorf("a refused CSR was stored: %s", g.Combined())
			}
		})
	}
}

// TestStrategies: identity is the server's, the main resource cannot change spec or status,
// the certificate is set once, decisions cannot be removed or combined.
func TestStrategies(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")

	manifest := framework.CSRManifest("spoof", request, clientSigner, 86400, "client auth") +
		"  username: system:admin\n  groups:\n  - system:masters\n  uid: forged\n"
	manifest += "status:\n  conditions:\n  - type: Approved\n    status: \"True\"\n"
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "spoof.yaml", manifest))
	if got := framework.MustKubectl(t, kc, "get", "csr", "spoof", "-o", "jsonpath={.spec.username}|{.spec.groups}|{.spec.uid}"); got != `kcsr-admin|["system:masters","system:authenticated"]|` {
		t.Errorf("identity = %q, want the caller's (kcsr-admin)", got)
	}
	if got := condition(t, kc, "spoof"); got != "Pending" {
		t.Errorf("a pre-approved create must be reset to Pending, got %q", got)
	}
	if got := framework.MustKubectl(t, kc, "get", "csr", "spoof", "-o", "jsonpath={.spec.extra}"); !strings.Contains(got, "X509SHA256=") {
		t.Errorf("spec.extra = %q, want the caller's credential id", got)
	}

	// PUT/PATCH on the main resource: spec and status changes are dropped, labels apply.
	framework.MustKubectl(t, kc, "patch", "csr", "spoof", "--type=merge", "-p",
		`{"metadata":{"labels":{"team":"a"}},"spec":{"signerName":"example.com/other","usages":["server auth"]},"status":{"conditions":[{"type":"Approved","status":"True"}]}}`)
	if got := framework.MustKubectl(t, kc, "get", "csr", "spoof", "-o", "jsonpath={.metadata.labels.team}|{.spec.signerName}|{.spec.usages}"); got != `a|`+clientSigner+`|["client auth"]` {
		t.Errorf("after patching the main resource: %q; want label set, spec unchanged", got)
	}
	if got := condition(t, kc, "spoof"); got != "Pending" {
		t.Errorf("status changed through the main resource: %q", got)
	}

	// The certificate can be set once, through /status only.
	cert := base64.StdEncoding.EncodeToString(mustRead(t, filepath.Join(s.DataDir, "pki", "admin.crt")))
	r := framework.Kubectl(t, kc, "patch", "csr", "spoof", "--subresource=approval", "--type=merge", "-p", `{"status":{"certificate":"`+cert+`"}}`)
	if got := framework.MustKubectl(t, kc, "get", "csr", "spoof", "-o", "jsonpath={.status.certificate}"); got != "" {
		t.Errorf("/approval set the certificate (%s)", r.Combined())
	}
	framework.MustKubectl(t, kc, "patch", "csr", "spoof", "--subresource=status", "--type=merge", "-p", `{"status":{"certificate":"`+cert+`"}}`)
	other := base64.StdEncoding.EncodeToString(mustRead(t, filepath.Join(s.DataDir, "pki", "serving.crt")))
	r = framework.Kubectl(t, kc, "patch", "csr", "spoof", "--subresource=status", "--type=merge", "-p", `{"status":{"certificate":"`+other+`"}}`)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "updates may not modify existing certificate content") {
		t.Errorf("replacing the certificate: exit %d %q; want 'updates may not modify existing certificate content'", r.ExitCode, r.Stderr)
	}

	// Approve, then try to remove the decision, then to add Denied next to it.
	framework.MustKubectl(t, kc, "certificate", "approve", "spoof")
	r = framework.Kubectl(t, kc, "patch", "csr", "spoof", "--subresource=approval", "--type=json", "-p", `[{"op":"remove","path":"/status/conditions/0"}]`)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `updates may not remove a condition of type "Approved"`) {
		t.Errorf("removing Approved: exit %d %q", r.ExitCode, r.Stderr)
	}
	r = framework.Kubectl(t, kc, "patch", "csr", "spoof", "--subresource=approval", "--type=json", "-p", `[{"op":"add","path":"/status/conditions/-","value":{"type":"Denied","status":"True"}}]`)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Approved and Denied conditions are mutually exclusive") {
		t.Errorf("adding Denied to an Approved CSR: exit %d %q", r.ExitCode, r.Stderr)
	}
	r = framework.Kubectl(t, kc, "patch", "csr", "spoof", "--subresource=status", "--type=json", "-p", `[{"op":"add","path":"/status/conditions/-","value":{"type":"Denied","status":"True"}}]`)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `updates may not add a condition of type "Denied"`) {
		t.Errorf("adding Denied through /status: exit %d %q", r.ExitCode, r.Stderr)
	}
}

// TestKillAndRestart: an acknowledged create survives kill -9.
func TestKillAndRestart(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	framework.MustKubectl(t, s.Kubeconfig, "apply", "-f", framework.WriteFile(t, dir, "csr.yaml", framework.CSRManifest("durable", request, clientSigner, 86400, "client auth")))
	s.Kill()
	s.Start()
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "durable", "-o", "jsonpath={.metadata.name}"); got != "durable" {
		t.Fatalf("after kill -9 and restart: %q", got)
	}
	// The PKI is reused, not regenerated.
	if !strings.Contains(s.Stdout(), "kcsr server is ready") {
		t.Errorf("restart did not announce readiness")
	}
}

func condition(t *testing.T, kc, name string) string {
	t.Helper()
	rows := framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", name))
	if len(rows) != 2 {
		t.Fatalf("kubectl get csr %s: %v", name, rows)
	}
	return rows[1][len(rows[1])-1]
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
