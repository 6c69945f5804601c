package e2e

import (
	"strings"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestAdminVerbs: kcsr get/describe/approve/deny (issue 5 item 2).
func TestAdminVerbs(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	kcsr := func(args ...string) framework.Result {
		return framework.Run(t, "", framework.Binary(t), append(args, "--kubeconfig", kc)...)
	}
	create := func(name, signer string, orgs []string, usages ...string) {
		req := framework.GoCSR(t, dir, name, name, orgs, []string{name + ".example"}, nil)
		framework.MustKubectl(t, kc, "create", "-f", writeFile(t, dir, name+".yaml", framework.CSRManifest(name, req, signer, 3600, usages...)))
	}
	create("alpha", clientSigner, []string{"developers"}, "client auth")
	create("beta", clientSigner, nil, "client auth")
	create("root", "example.com/internal", []string{"system:masters"}, "client auth")

	r := kcsr("get")
	for _, want := range []string{"CN", "GROUPS", "SANS", "KEY", "alpha", "developers", "alpha.example", "ECDSA P-256", "Pending"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kcsr get lacks %q:\n%s", want, r.Stdout)
		}
	}

	r = kcsr("approve", "alpha", "--message", "checked")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "alpha: CN=alpha O=developers SANs=alpha.example signer="+clientSigner) || !strings.Contains(r.Stdout, "certificatesigningrequest.certificates.k8s.io/alpha approved") {
		t.Errorf("kcsr approve: %s", r.Combined())
	}
	waitIssued(t, kc, "alpha")
	if got := framework.MustKubectl(t, kc, "get", "csr", "alpha", "-o", `jsonpath={.status.conditions[0].reason}|{.status.conditions[0].message}`); got != "KcsrApprove|checked" {
		t.Errorf("condition = %q", got)
	}
	if r := kcsr("deny", "alpha"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificate signing request "alpha" is already Approved`) {
		t.Errorf("denying an approved CSR: %s", r.Combined())
	}
	if r := kcsr("deny", "beta", "--reason", "Unknown", "--message", "who is beta?"); r.ExitCode != 0 {
		t.Errorf("kcsr deny: %s", r.Combined())
	}
	if got := condition(t, kc, "beta"); got != "Denied" {
		t.Errorf("beta is %s", got)
	}

	// system:masters is refused without --force.
	if r := kcsr("approve", "root"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "refusing to approve root: it asks for group system:masters") {
		t.Errorf("approving system:masters without --force: %s", r.Combined())
	}
	if got := condition(t, kc, "root"); got != "Pending" {
		t.Errorf("root was decided: %s", got)
	}
	if r := kcsr("approve", "root", "--force"); r.ExitCode != 0 {
		t.Errorf("approving with --force: %s", r.Combined())
	}

	r = kcsr("describe", "alpha")
	for _, want := range []string{"Subject CN:", "alpha", "Subject O:", "developers", "SANs:", "alpha.example", "Key:", "ECDSA P-256", "Requester:", "kcsr-admin", "Requester credential:", "X509SHA256=", "Condition Approved:", "KcsrApprove: checked", "Certificate serial:", "Certificate validity:", "left"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kcsr describe lacks %q:\n%s", want, r.Stdout)
		}
	}
}
