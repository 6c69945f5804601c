package e2e

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

const developersPolicy = `apiVersion: kcsr.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: developers
spec:
  signerNames: [kubernetes.io/kube-apiserver-client]
  match: '"developers" in request.requester.groups'
  rules:
  - name: own-username
    expression: request.subject.commonName == request.requester.username
    message: the CN must be your own username
  - name: groups-subset
    expression: request.subject.organizations.all(o, o in request.requester.groups)
    message: every O must be one of your groups
  - name: max-24h
    expression: request.expirationSeconds > 0 && request.expirationSeconds <= 86400
    message: ask for 24h or less
  action: Approve
`

const denyAdminsPolicy = `apiVersion: kcsr.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: no-admin-names
spec:
  signerNames: ["kubernetes.io/*"]
  rules:
  - name: admin-cn
    expression: request.subject.commonName.startsWith("admin")
  action: Deny
`

// TestApprovalPolicies: issue 4 acceptance (a), (b) and (c).
func TestApprovalPolicies(t *testing.T) {
	dir := t.TempDir()
	tokens := framework.WriteFile(t, dir, "tokens.csv", "alice-token,alice,1001,\"developers\"\nadmin-token,admin-alice,1002,\"developers\"\n")
	s := framework.StartServer(t, "", "--token-auth-file", tokens, "--protected-groups", "system:masters,platform-admins")
	kc := s.Kubeconfig
	caFile := filepath.Join(s.DataDir, "pki", "ca.crt")
	as := func(token string, args ...string) framework.Result {
		return framework.Run(t, "", framework.KubectlBinary(), append([]string{"--server", s.URL, "--certificate-authority", caFile, "--token", token}, args...)...)
	}
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "developers-request", "--clusterrole", "system:node-bootstrapper", "--group", "developers")

	// (b) a broken expression is refused at create, with the CEL error and its position.
	broken := strings.Replace(developersPolicy, "request.subject.commonName == request.requester.username", "request.subject.commonName == requst.requester.username", 1)
	r := framework.Kubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "broken.yaml", broken))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "undeclared reference to 'requst'") || !strings.Contains(r.Stderr, "own-username") || !strings.Contains(r.Stderr, "<input>:1:") ||
		!strings.Contains(r.Stderr, "the names a policy can read: request{signerName, subject{commonName,") {
		t.Errorf("broken policy: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	// A policy author finds the CEL variables with kubectl explain (issue 16 item 7).
	explain := framework.MustKubectl(t, kc, "explain", "approvalpolicy.spec.rules")
	for _, want := range []string{"request.subject.commonName", "request.requester.username", "request.key.algorithm", "expression", "CEL boolean expression over request"} {
		if !strings.Contains(explain, want) {
			t.Errorf("kubectl explain approvalpolicy.spec.rules lacks %q:\n%s", want, explain)
		}
	}
	if g := framework.Kubectl(t, kc, "get", "approvalpolicies", "developers"); g.ExitCode == 0 {
		t.Errorf("the broken policy was stored")
	}

	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "developers.yaml", developersPolicy))
	submit := func(token, name, cn string, orgs []string, seconds int) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, cn, orgs, nil, nil)
		if r := as(token, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, clientSigner, seconds, "client auth"))); r.ExitCode != 0 {
			t.Fatalf("create %s: %s", name, r.Combined())
		}
	}

	// (a) matching: approved, reason names the policy.
	submit("alice-token", "alice-ok", "alice", []string{"developers"}, 86400)
	framework.WaitIssued(t, kc, "alice-ok")
	if got := framework.MustKubectl(t, kc, "get", "csr", "alice-ok", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].reason}|{.status.conditions[?(@.type=="Approved")].message}`); !strings.HasPrefix(got, "ApprovalPolicy/developers|") || !strings.Contains(got, `policy "developers"`) {
		t.Errorf("approval = %q, want reason ApprovalPolicy/developers", got)
	}
	// kcsr describe shows who approved from the condition (an approval is no event: events
	// are for what needs a person).
	if d := framework.Kcsr(t, kc, "describe", "alice-ok"); !strings.Contains(d.Stdout, "Condition Approved:") || !strings.Contains(d.Stdout, "ApprovalPolicy/developers") {
		t.Errorf("kcsr describe does not show the policy's approval:\n%s", d.Combined())
	}
	// (a) mismatching CN: left Pending, the annotation names the policy and the rule.
	submit("alice-token", "alice-as-bob", "bob", []string{"developers"}, 3600)
	var verdict string
	framework.Eventually(t, 20*time.Second, "a verdict annotation", func() bool {
		verdict = framework.MustKubectl(t, kc, "get", "csr", "alice-as-bob", "-o", `jsonpath={.metadata.annotations.kcsr\.dev/approval-verdict}`)
		return verdict != ""
	})
	if !strings.Contains(verdict, `"developers"`) || !strings.Contains(verdict, "own-username") || !strings.Contains(verdict, "the CN must be your own username") {
		t.Errorf("verdict = %q; want the policy, the rule and its message", verdict)
	}
	if got := condition(t, kc, "alice-as-bob"); got != "Pending" {
		t.Errorf("mismatching CSR is %s, want Pending", got)
	}
	// `kcsr policy test` explains a CSR before it is submitted.
	policyTest := func(name string, args ...string) framework.Result {
		return framework.Run(t, "", framework.Binary(t), append([]string{"policy", "test", "--kubeconfig", kc, "-f", filepath.Join(dir, name+".yaml")}, args...)...)
	}
	if r := policyTest("alice-ok", "--as", "alice", "--as-group", "developers"); r.ExitCode != 0 || !strings.Contains(r.Stdout, "final verdict for alice-ok as alice: Approve (developers)") {
		t.Errorf("kcsr policy test (matching): exit %d\n%s", r.ExitCode, r.Combined())
	}
	if r := policyTest("alice-as-bob", "--as", "alice", "--as-group", "developers"); r.ExitCode != 3 || !strings.Contains(r.Stdout, "own-username") {
		t.Errorf("kcsr policy test (mismatching): exit %d\n%s", r.ExitCode, r.Combined())
	}
	if r := policyTest("alice-ok"); r.ExitCode != 3 || !strings.Contains(r.Stdout, "as kcsr-admin") {
		t.Errorf("kcsr policy test as the caller (an admin outside developers): exit %d\n%s", r.ExitCode, r.Combined())
	}

	// (a) declared onFailure: Deny → Denied, with the rule.
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "developers-deny.yaml", strings.Replace(developersPolicy, "action: Approve\n", "action: Approve\n  onFailure: Deny\n", 1)))
	submit("alice-token", "alice-too-long", "alice", []string{"developers"}, 7*86400)
	wantDenied(t, kc, "alice-too-long", "ApprovalPolicy/developers", "max-24h")

	// (b) a deny policy wins over an approve policy.
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "deny.yaml", denyAdminsPolicy))
	submit("admin-token", "admin-alice", "admin-alice", []string{"developers"}, 3600)
	wantDenied(t, kc, "admin-alice", "ApprovalPolicy/no-admin-names", "admin-cn")

	// (c) whatever the policies say: a protected group stays with a person, RSA-1024 is
	// denied, and system:masters cannot even be requested.
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "all.yaml", framework.ApprovalPolicy("approve-everything", "kubernetes.io/kube-apiserver-client", "Approve", "")))
	protected := framework.GoCSR(t, dir, "platform", "carol", []string{"platform-admins"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "platform.yaml", framework.CSRManifest("platform", protected, clientSigner, 3600, "client auth")))
	framework.Eventually(t, 20*time.Second, "a guard-rail verdict", func() bool {
		verdict = framework.MustKubectl(t, kc, "get", "csr", "platform", "-o", `jsonpath={.metadata.annotations.kcsr\.dev/approval-verdict}`)
		return verdict != ""
	})
	if !strings.Contains(verdict, "platform-admins") || condition(t, kc, "platform") != "Pending" {
		t.Errorf("protected group: %s, verdict %q", condition(t, kc, "platform"), verdict)
	}
	weak := rsaCSR(t, testkit.RSA1024, "dave")
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "weak.yaml", framework.CSRManifest("weak", weak, clientSigner, 3600, "client auth")))
	wantDenied(t, kc, "weak", "GuardRail", "2048")
	masters := framework.GoCSR(t, dir, "masters", "eve", []string{"system:masters"}, nil, nil)
	if r := framework.Kubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "masters.yaml", framework.CSRManifest("masters", masters, clientSigner, 3600, "client auth"))); r.ExitCode == 0 {
		t.Errorf("a system:masters client CSR was accepted")
	}
	framework.MustKubectl(t, kc, "get", "approvalpolicies")
}

func rsaCSR(t *testing.T, kt testkit.KeyType, cn string) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(testkit.RequestPEM(t, testkit.NewKey(t, kt), testkit.Request(t, cn)))
}
