package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// oldKubectlDir holds the older kubectl releases (the Google Cloud SDK ships them on this
// machine image); KCSR_E2E_KUBECTL_DIR overrides it.
func oldKubectlDir() string {
	if d := os.Getenv("KCSR_E2E_KUBECTL_DIR"); d != "" {
		return d
	}
	return "/usr/lib/google-cloud-sdk/bin"
}

// testOlderKubectl runs the seed walkthrough's apply, get, approve, deny and describe with
// kubectl 1.27 (which reads OpenAPI v2) and 1.33.
func testOlderKubectl(t *testing.T, cp *controlPlane) {
	for _, release := range []string{"1.27", "1.33"} {
		t.Run(release, func(t *testing.T) {
			bin := filepath.Join(oldKubectlDir(), "kubectl."+release)
			if _, err := os.Stat(bin); err != nil {
				t.Fatalf("kubectl %s is needed for this test: %v (set KCSR_E2E_KUBECTL_DIR to the directory of kubectl.%s)", release, err, release)
			}
			kubectl := func(args ...string) framework.Result {
				return framework.Run(t, "", bin, append([]string{"--kubeconfig", cp.admin}, args...)...)
			}
			mustKubectl := func(args ...string) string {
				t.Helper()
				r := kubectl(args...)
				if r.ExitCode != 0 {
					t.Fatalf("kubectl.%s %s: exit %d\n%s", release, strings.Join(args, " "), r.ExitCode, r.Combined())
				}
				return r.Stdout
			}
			// 1.27 prints version.Info{… GitVersion:"v1.27.16" …}; later releases "Client Version: v1.33.1".
			if v := mustKubectl("version", "--client"); !strings.Contains(v, "Client Version: v"+release+".") && !strings.Contains(v, `GitVersion:"v`+release+".") {
				t.Fatalf("%s is not kubectl %s:\n%s", bin, release, v)
			}
			dir := t.TempDir()
			name := "old-" + strings.ReplaceAll(release, ".", "-")
			request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
			manifest := framework.WriteFile(t, dir, "csr.yaml", framework.CSRManifest(name, request, clientSigner, 86400, "client auth"))

			wantStdout(t, "first apply", kubectl("apply", "-f", manifest), "certificatesigningrequest.certificates.k8s.io/"+name+" created")
			wantStdout(t, "second apply", kubectl("apply", "-f", manifest), "certificatesigningrequest.certificates.k8s.io/"+name+" unchanged")

			row := func() []string {
				t.Helper()
				rows := framework.TableRows(mustKubectl("get", "csr", name))
				want := "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION"
				if len(rows) != 2 || strings.Join(rows[0], " ") != want {
					t.Fatalf("kubectl.%s get csr %s: %v, want header %q and one row", release, name, rows, want)
				}
				return rows[1]
			}
			if r := row(); r[2] != clientSigner || r[3] != "kcsr-admin" || r[4] != "24h" || r[5] != "Pending" {
				t.Errorf("get csr row %v, want … %s kcsr-admin 24h Pending", r, clientSigner)
			}
			wantStdout(t, "approve", kubectl("certificate", "approve", name), "certificatesigningrequest.certificates.k8s.io/"+name+" approved")
			// The signer may have issued already: Approved or Approved,Issued.
			if r := row(); r[5] != "Approved" && r[5] != "Approved,Issued" {
				t.Errorf("condition after approve = %q, want Approved or Approved,Issued", r[5])
			}
			describe := mustKubectl("describe", "csr", name)
			for _, want := range []string{"Name:         " + name, "Requesting User:     kcsr-admin", "Signer:              " + clientSigner, "Requested Duration:  24h", "Status:              Approved", "Common Name:    myuser", "Organization:   dev-team"} {
				if !strings.Contains(describe, want) {
					t.Errorf("describe lacks %q:\n%s", want, describe)
				}
			}

			denied := name + "-denied"
			other := framework.OpensslCSR(t, dir, "other", "/CN=other/O=dev-team")
			mustKubectl("apply", "-f", framework.WriteFile(t, dir, "other.yaml", framework.CSRManifest(denied, other, clientSigner, 86400, "client auth")))
			wantStdout(t, "deny", kubectl("certificate", "deny", denied), "certificatesigningrequest.certificates.k8s.io/"+denied+" denied")
			r := kubectl("certificate", "approve", denied)
			if r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificate signing request "`+denied+`" is already Denied`) {
				t.Errorf("approving a denied CSR: exit %d %q, want 'is already Denied'", r.ExitCode, r.Combined())
			}
		})
	}
}
