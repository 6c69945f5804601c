package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestAdminVerbs: kcsr get/describe/approve/deny against the real server (issue 5 item 2).
func TestAdminVerbs(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	// kcsr version: the client's and the server's (issue 16 item 9).
	if r := framework.Kcsr(t, kc, "version"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "Client Version: v1.37.2+kcsr.") || !strings.Contains(r.Stdout, "Server Version: v1.37.2+kcsr.") || !strings.Contains(r.Stdout, "(kcsr server at "+s.URL+")") {
		t.Errorf("kcsr version: exit %d\n%s", r.ExitCode, r.Combined())
	}
	create := func(name, signer string, orgs []string, usages ...string) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, name, orgs, []string{name + ".example"}, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, signer, 3600, usages...)))
	}
	create("alpha", clientSigner, []string{"developers"}, "client auth")
	create("beta", clientSigner, nil, "client auth")
	create("gamma", clientSigner, []string{"ops"}, "client auth")
	create("root", "example.com/internal", []string{"system:masters"}, "client auth")

	r := framework.Kcsr(t, kc, "get")
	rows := framework.TableRows(r.Stdout)
	if len(rows) != 5 || strings.Join(rows[0], " ") != "NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION CN GROUPS SANS KEY" {
		t.Fatalf("kcsr get:\n%s", r.Combined())
	}
	for _, want := range []string{"alpha", clientSigner, "kcsr-admin", "60m", "Pending", "alpha", "developers", "alpha.example", "ECDSA", "P-256"} {
		if !strings.Contains(strings.Join(rows[1], " "), want) {
			t.Errorf("kcsr get: the alpha row %v lacks %q", rows[1], want)
		}
	}

	r = framework.Kcsr(t, kc, "approve", "alpha", "--message", "checked")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "alpha: CN=alpha O=developers SANs=alpha.example signer="+clientSigner+" usages=[client auth] duration=60m requester=kcsr-admin key=ECDSA P-256\n") ||
		!strings.Contains(r.Stdout, "certificatesigningrequest.certificates.k8s.io/alpha approved") {
		t.Errorf("kcsr approve: %s", r.Combined())
	}
	framework.WaitIssued(t, kc, "alpha")
	if got := framework.MustKubectl(t, kc, "get", "csr", "alpha", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}|{.status.conditions[?(@.type=="Approved")].message}`); got != "KcsrApprove|checked" {
		t.Errorf("condition = %q", got)
	}
	// kubectl's semantics: approving again writes nothing; denying is refused.
	// Several names: the ones found are printed, the missing ones reported (as kubectl get).
	if r := framework.Kcsr(t, kc, "get", "alpha", "nosuch"); r.ExitCode == 0 || !strings.Contains(r.Stdout, "alpha") || !strings.Contains(r.Stderr, `"nosuch" not found`) {
		t.Errorf("kcsr get alpha nosuch: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if r := framework.Kcsr(t, kc, "approve", "alpha"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "certificatesigningrequest.certificates.k8s.io/alpha already approved") {
		t.Errorf("approving twice: %s", r.Combined())
	}
	if r := framework.Kcsr(t, kc, "deny", "alpha"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificate signing request "alpha" is already Approved`) {
		t.Errorf("denying an approved CSR: %s", r.Combined())
	}
	if r := framework.Kcsr(t, kc, "deny", "beta", "--reason", "Unknown", "--message", "who is beta?"); r.ExitCode != 0 {
		t.Errorf("kcsr deny: %s", r.Combined())
	}
	if got := condition(t, kc, "beta"); got != "Denied" {
		t.Errorf("beta is %s", got)
	}
	if got := framework.MustKubectl(t, kc, "get", "csr", "beta", "-o", `jsonpath={.status.conditions[0].reason}|{.status.conditions[0].message}`); got != "Unknown|who is beta?" {
		t.Errorf("beta's condition = %q", got)
	}
	if r := framework.Kcsr(t, kc, "approve", "beta"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificate signing request "beta" is already Denied`) {
		t.Errorf("approving a denied CSR: %s", r.Combined())
	}
	// Several names: each is decided, an unknown one is an error.
	if r := framework.Kcsr(t, kc, "deny", "ghost", "beta"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `"ghost" not found`) || !strings.Contains(r.Stdout, "beta already denied") {
		t.Errorf("deny ghost beta: %s", r.Combined())
	}

	// system:masters is refused without --force.
	if r := framework.Kcsr(t, kc, "approve", "root"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "refusing to approve root: it asks for group system:masters (O=system:masters)") ||
		!strings.Contains(r.Stderr, "bypasses every authorization check") || !strings.Contains(r.Stdout, "root: CN=root O=system:masters") {
		t.Errorf("approving system:masters without --force: %s", r.Combined())
	}
	if got := condition(t, kc, "root"); got != "Pending" {
		t.Errorf("root was decided: %s", got)
	}
	if r := framework.Kcsr(t, kc, "approve", "root", "--force"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "certificatesigningrequest.certificates.k8s.io/root approved") {
		t.Errorf("approving with --force: %s", r.Combined())
	}

	// The CONDITION column is kubectl's, for every state.
	kubectlRows := framework.TableRows(framework.MustKubectl(t, kc, "get", "csr"))
	kcsrRows := framework.TableRows(framework.Kcsr(t, kc, "get").Stdout)
	for i := 1; i < len(kubectlRows); i++ {
		if kubectlRows[i][0] != kcsrRows[i][0] || kubectlRows[i][5] != kcsrRows[i][5] {
			t.Errorf("row %d: kubectl %v, kcsr %v", i, kubectlRows[i], kcsrRows[i])
		}
	}

	r = framework.Kcsr(t, kc, "get", "alpha", "-o", "wide")
	if rows := framework.TableRows(r.Stdout); len(rows) != 2 || rows[0][len(rows[0])-2] != "USAGES" || rows[1][len(rows[1])-2] != "auth" || rows[1][5] != "Approved,Issued" {
		t.Errorf("kcsr get -o wide:\n%s", r.Combined())
	}
	if r := framework.Kcsr(t, kc, "get", "alpha", "beta", "-o", "name"); r.Stdout != "certificatesigningrequest.certificates.k8s.io/alpha\ncertificatesigningrequest.certificates.k8s.io/beta\n" {
		t.Errorf("kcsr get -o name:\n%s", r.Combined())
	}
	var obj struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Status struct {
			Certificate []byte `json:"certificate"`
		} `json:"status"`
	}
	if err := json.Unmarshal([]byte(framework.Kcsr(t, kc, "get", "alpha", "-o", "json").Stdout), &obj); err != nil || obj.Kind != "CertificateSigningRequest" || obj.Metadata.Name != "alpha" || len(obj.Status.Certificate) == 0 {
		t.Errorf("kcsr get -o json: %+v %v", obj, err)
	}
	if r := framework.Kcsr(t, kc, "get", "-o", "yaml"); !strings.HasPrefix(r.Stdout, "apiVersion: v1\nitems:\n") || !strings.Contains(r.Stdout, "kind: List\n") {
		t.Errorf("kcsr get -o yaml:\n%s", r.Combined())
	}

	r = framework.Kcsr(t, kc, "describe", "alpha")
	serial := parseCert(t, framework.IssuedCertificate(t, kc, "alpha")).SerialNumber.Text(16)
	for _, want := range []string{
		"Name:                  alpha\n",
		"Status:                Approved,Issued\n",
		"Requester:             kcsr-admin\n",
		"Requester groups:      system:masters, system:authenticated\n",
		"Requester credential:  X509SHA256=",
		"Signer:                " + clientSigner + "\n",
		"Requested duration:    60m\n",
		"Usages:                client auth\n",
		"Subject CN:            alpha\n",
		"Subject O:             developers\n",
		"SANs:                  DNS:alpha.example\n",
		"Key:                   ECDSA P-256\n",
		"Request signature:     ECDSA-SHA256, verifies\n",
		"Condition Approved:    True, KcsrApprove: checked (",
		"Certificate serial:    " + serial + "\n",
		"Certificate issuer:    CN=kcsr-ca\n",
		"Certificate validity:  ",
		"m left)\n",
		"Inventory:             IssuedCertificate ",
		", valid\n",
		"Events:\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kcsr describe alpha lacks %q:\n%s", want, r.Stdout)
		}
	}
	framework.Eventually(t, 30*time.Second, "the approver's verdict on gamma", func() bool {
		return framework.MustKubectl(t, kc, "get", "csr", "gamma", "-o", `jsonpath={.metadata.annotations.kcsr\.dev/approval-verdict}`) != ""
	})
	r = framework.Kcsr(t, kc, "describe", "gamma")
	for _, want := range []string{
		"Conditions:            <none>: Pending, nobody has approved or denied it\n",
		`Approval verdict:      no approval policy covers signer "kubernetes.io/kube-apiserver-client"`,
		"Verdict meaning:       kcsr's approver could not decide this CSR (no approval policy approved or denied it), so it waits for a person: kcsr approve gamma or kcsr deny gamma\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("kcsr describe gamma lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r := framework.Kcsr(t, kc, "describe", "beta"); !strings.Contains(r.Stdout, "Condition Denied:      True, Unknown: who is beta? (") {
		t.Errorf("kcsr describe beta:\n%s", r.Stdout)
	}
	if r := framework.Kcsr(t, kc, "describe", "ghost"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `"ghost" not found`) {
		t.Errorf("kcsr describe ghost: %s", r.Combined())
	}
}

// TestDecideAll: issue 16 item 3. approve/deny --all decide the CSRs the filters pick
// (pending ones by default), --dry-run shows what would be decided and writes nothing,
// and a CSR for a kubernetes.io/ signer nobody serves, or for a custom signer no running
// kcsr signer announces, is approved only on a "yes" or with --yes.
func TestDecideAll(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	create := func(name, signer, as string) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, name, nil, nil, nil)
		framework.MustKubectl(t, kc, "create", "--as", as, "--as-group", "system:authenticated", "-f",
			framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, signer, 3600, "client auth")))
	}
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "csr-creators", "--clusterrole", "system:node-bootstrapper", "--user", "ci-bot", "--user", "rahul")
	create("ci-1", "example.com/ci", "ci-bot")
	create("ci-2", "example.com/ci", "ci-bot")
	create("ci-other", "example.com/other", "ci-bot")
	create("human", "example.com/ci", "rahul")
	create("typo", "kubernetes.io/kube-apiserver-clent", "rahul")
	// The decision only: kcsr server serves no example.com signer, so an approved CSR of
	// one also gets SignerUnavailable.
	state := func(name string) string {
		t.Helper()
		conditions := framework.MustKubectl(t, kc, "get", "csr", name, "-o", "jsonpath={.status.conditions[*].type}")
		return strings.TrimSuffix(conditions, " SignerUnavailable")
	}

	// The server announces the signers it serves; example.com/ci is not one of them.
	announced := framework.MustKubectl(t, kc, "get", "leases", "-n", "kube-system", "-l", "kcsr.dev/signers-announcement", "-o", `jsonpath={.items[*].metadata.annotations.kcsr\.dev/signers}`)
	if !strings.Contains(announced, "kubernetes.io/kube-apiserver-client") || strings.Contains(announced, "example.com") {
		t.Errorf("the server announces %q; want its built-in signers", announced)
	}
	r := framework.Kcsr(t, kc, "approve", "--all", "--requester", "ci-bot", "--signer", "example.com/ci")
	wantExit(t, "kcsr approve --all of a signer nobody serves", r.ExitCode, 1, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, `refusing to approve ci-1: no running signer serves "example.com/ci" (the kcsr signers running serve kubernetes.io/kube-apiserver-client`, "--yes")
	if got := state("ci-1"); got != "" {
		t.Fatalf("approved without a yes: ci-1 is %q", got)
	}

	r = framework.Kcsr(t, kc, "approve", "--all", "--requester", "ci-bot", "--signer", "example.com/ci", "--dry-run", "--yes")
	wantExit(t, "kcsr approve --all --dry-run", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "stdout", r.Stdout, "ci-1: CN=ci-1", "certificatesigningrequest.certificates.k8s.io/ci-1 approved (dry run)", "certificatesigningrequest.certificates.k8s.io/ci-2 approved (dry run)")
	if strings.Contains(r.Stdout, "human") || strings.Contains(r.Stdout, "ci-other") {
		t.Errorf("the filters let through another requester's or signer's CSR:\n%s", r.Stdout)
	}
	if got := state("ci-1"); got != "" {
		t.Fatalf("--dry-run wrote a decision: ci-1 is %q", got)
	}

	r = framework.Kcsr(t, kc, "approve", "--all", "--requester", "ci-bot", "--signer", "example.com/ci", "--yes")
	wantExit(t, "kcsr approve --all --yes", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, `warning: approving anyway ci-1: no running signer serves "example.com/ci"`)
	for name, want := range map[string]string{"ci-1": "Approved", "ci-2": "Approved", "ci-other": "", "human": ""} {
		if got := state(name); got != want {
			t.Errorf("after approve --all: %s is %q; want %q", name, got, want)
		}
	}
	// The approved ones are no longer pending: deny --all leaves them.
	r = framework.Kcsr(t, kc, "deny", "--all", "--requester", "ci-bot")
	wantExit(t, "kcsr deny --all", r.ExitCode, 0, r.Stdout, r.Stderr)
	if got := state("ci-other"); got != "Denied" || state("ci-1") != "Approved" {
		t.Errorf("after deny --all --requester ci-bot: ci-other %q, ci-1 %q; want Denied, Approved", got, state("ci-1"))
	}
	r = framework.Kcsr(t, kc, "deny", "--all", "--requester", "nobody")
	wantExit(t, "kcsr deny --all matching nothing", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "stdout", r.Stdout, "no CSR matches")

	r = framework.Kcsr(t, kc, "approve", "typo")
	wantExit(t, "kcsr approve of a misspelled signer", r.ExitCode, 1, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, `refusing to approve typo: no Kubernetes signer serves "kubernetes.io/kube-apiserver-clent"`, "did you mean kubernetes.io/kube-apiserver-client?", "--yes")
	for _, bad := range [][]string{{"approve", "human", "--all"}, {"approve"}, {"approve", "human", "--signer", "example.com/ci"}} {
		r = framework.Kcsr(t, kc, bad...)
		wantExit(t, "kcsr "+strings.Join(bad, " "), r.ExitCode, 1, r.Stdout, r.Stderr)
	}
	if got := state("human"); got != "" {
		t.Errorf("bad flags decided human: %q", got)
	}
	// Asked, and approved on a "yes".
	r = framework.Run(t, "yes\n", framework.Binary(t), "approve", "human", "--kubeconfig", kc)
	wantExit(t, "kcsr approve answered yes", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "stdout", r.Stdout, `no running signer serves "example.com/ci"`, "approve human anyway? [y/N]", "certificatesigningrequest.certificates.k8s.io/human approved")
}

// TestGetOutputs: issue 16 item 4. kcsr get's kubectl-style outputs against the real
// server: -l, --sort-by, --no-headers, -o jsonpath and custom-columns, -o cert, -o wide's
// Revoked, and -w printing a CSR created after the list.
func TestGetOutputs(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	rahul := framework.IssueClientCert(t, kc, dir, "rahul", "developers")
	framework.IssueClientCert(t, kc, dir, "priya")
	framework.MustKubectl(t, kc, "label", "csr", "priya", "team=payments")

	r := framework.Kcsr(t, kc, "get", "-l", "team=payments", "-o", "custom-columns=NAME:.metadata.name,USER:.spec.username", "--no-headers")
	wantExit(t, "kcsr get -l -o custom-columns --no-headers", r.ExitCode, 0, r.Stdout, r.Stderr)
	if got := strings.Fields(r.Stdout); strings.Join(got, " ") != "priya kcsr-admin" {
		t.Errorf("kcsr get -l team=payments: %q", r.Stdout)
	}
	r = framework.Kcsr(t, kc, "get", "--sort-by", ".metadata.name", "-o", `jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}`)
	wantExit(t, "kcsr get --sort-by -o jsonpath", r.ExitCode, 0, r.Stdout, r.Stderr)
	if r.Stdout != "priya\nrahul\n" {
		t.Errorf("kcsr get --sort-by .metadata.name -o jsonpath: %q", r.Stdout)
	}
	r = framework.Kcsr(t, kc, "get", "rahul", "-o", "cert")
	wantExit(t, "kcsr get rahul -o cert", r.ExitCode, 0, r.Stdout, r.Stderr)
	if r.Stdout != string(mustRead(t, rahul)) {
		t.Errorf("kcsr get rahul -o cert is not rahul's certificate:\n%s", r.Stdout)
	}

	if r := framework.Kcsr(t, kc, "revoke", "--csr", "rahul", "--reason", "keyCompromise"); r.ExitCode != 0 {
		t.Fatalf("kcsr revoke --csr rahul: exit %d\n%s", r.ExitCode, r.Combined())
	}
	r = framework.Kcsr(t, kc, "get", "rahul", "priya", "-o", "wide")
	wantExit(t, "kcsr get -o wide", r.ExitCode, 0, r.Stdout, r.Stderr)
	rows := framework.TableRows(r.Stdout)
	if len(rows) != 3 || !strings.Contains(strings.Join(rows[1], " "), "Revoked (keyCompromise)") || strings.Contains(strings.Join(rows[2], " "), "Revoked") {
		t.Errorf("kcsr get -o wide: rahul's row should say Revoked (keyCompromise), priya's not:\n%s", r.Stdout)
	}

	// -w: the list, then each change.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out framework.SyncBuffer
	watch := exec.CommandContext(ctx, framework.Binary(t), "get", "-w", "--no-headers", "-o", "custom-columns=NAME:.metadata.name,CONDITION:.status.conditions[*].type", "--kubeconfig", kc)
	watch.Stdout = &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = watch.Process.Kill(); _ = watch.Wait() }()
	framework.Eventually(t, 20*time.Second, "the list", func() bool { return strings.Contains(out.String(), "rahul") })
	framework.IssueClientCert(t, kc, dir, "late")
	framework.Eventually(t, 20*time.Second, "the new CSR, then its approval, in the watch", func() bool {
		return strings.Contains(out.String(), "late   <none>") && strings.Contains(out.String(), "late   Approved")
	})
}

// TestJSONOutputs: issue 16 item 4. doctor, token list and policy test print JSON with
// -o json, with the same exit codes, for scripts.
func TestJSONOutputs(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	if r := framework.Kcsr(t, kc, "token", "create", "--user", "rahul", "--group", "developers"); r.ExitCode != 0 {
		t.Fatalf("kcsr token create: %s", r.Combined())
	}
	r := framework.Kcsr(t, kc, "token", "list", "-o", "json")
	wantExit(t, "kcsr token list -o json", r.ExitCode, 0, r.Stdout, r.Stderr)
	var tokens []struct{ ID, Kind, Username, State string }
	if err := json.Unmarshal([]byte(r.Stdout), &tokens); err != nil || len(tokens) != 1 || tokens[0].Kind != "join" || tokens[0].Username != "rahul" || tokens[0].State != "unused" {
		t.Errorf("kcsr token list -o json: %v\n%s", err, r.Stdout)
	}

	req := framework.GoCSR(t, dir, "pending", "pending", nil, nil, nil)
	manifest := framework.WriteFile(t, dir, "pending.yaml", framework.CSRManifest("pending", req, clientSigner, 3600, "client auth"))
	r = framework.Kcsr(t, kc, "policy", "test", "-f", manifest, "-o", "json")
	wantExit(t, "kcsr policy test -o json", r.ExitCode, 3, r.Stdout, r.Stderr)
	var verdict struct {
		CSR   string
		Final struct{ Decision string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &verdict); err != nil || verdict.CSR != "pending" || verdict.Final.Decision != "NoOpinion" {
		t.Errorf("kcsr policy test -o json: %v\n%s", err, r.Stdout)
	}

	framework.MustKubectl(t, kc, "create", "-f", manifest)
	r = framework.Kcsr(t, kc, "doctor", "pending", "-o", "json")
	var findings []struct{ Severity, Subject, Cause, Fix string }
	if err := json.Unmarshal([]byte(r.Stdout), &findings); err != nil || len(findings) == 0 {
		t.Fatalf("kcsr doctor -o json: %v\n%s", err, r.Combined())
	}
	worst := map[string]int{"ok": 0, "warning": 3, "problem": 2}
	code := 0
	for _, f := range findings {
		if f.Severity == "problem" || (f.Severity == "warning" && code == 0) {
			code = worst[f.Severity]
		}
		if f.Subject == "" || f.Cause == "" {
			t.Errorf("a finding without subject or cause: %+v", f)
		}
	}
	wantExit(t, "kcsr doctor -o json", r.ExitCode, code, r.Stdout, r.Stderr)

	r = framework.Kcsr(t, kc, "token", "list", "-o", "yaml")
	wantExit(t, "kcsr token list -o yaml", r.ExitCode, 1, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, `--output "yaml" is not supported; use json`)
}

// TestCompletion: issue 16 item 9. CSR names complete from the server, --reason from RFC
// 5280's names, and `kubectl csr` completes through kubectl_complete-csr.
func TestCompletion(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	for _, name := range []string{"rahul", "priya"} {
		req := framework.GoCSR(t, dir, name, name, nil, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, clientSigner, 3600, "client auth")))
	}
	r := framework.Run(t, "", framework.Binary(t), "__complete", "approve", "--kubeconfig", kc, "")
	wantExit(t, "kcsr __complete approve", r.ExitCode, 0, r.Stdout, r.Stderr)
	if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); strings.Join(lines, " ") != "priya rahul :4" {
		t.Errorf("completing kcsr approve: %q; want priya, rahul and :4 (no file completion)", r.Stdout)
	}
	r = framework.Run(t, "", framework.Binary(t), "__complete", "describe", "--kubeconfig", kc, "r")
	if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); strings.Join(lines, " ") != "rahul :4" {
		t.Errorf("completing kcsr describe r: %q", r.Stdout)
	}
	r = framework.Run(t, "", framework.Binary(t), "__complete", "revoke", "--reason", "key")
	wantContains(t, "completing kcsr revoke --reason", r.Stdout, "keyCompromise\n")

	bin := t.TempDir()
	for _, link := range []string{"kubectl-csr", "kubectl_complete-csr"} {
		if err := os.Symlink(framework.Binary(t), filepath.Join(bin, link)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	r = framework.Run(t, "", framework.KubectlBinary(), "__complete", "csr", "approve", "--kubeconfig", kc, "p")
	wantExit(t, "kubectl __complete csr approve", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "completing kubectl csr approve p", r.Stdout, "priya\n")
}
