package e2e

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestIssuanceAuthority is issue 13's authorization matrix: for each kcsr.dev resource and
// verb that can lead to a certificate (policies, join and bootstrap tokens) and each way a
// CSR gets decided (a person, a policy, a join token, a bootstrap token, the nodeclient
// rule), an identity holding every RBAC verb on that resource but no "approve" on the
// signer cannot cause issuance; one that may approve can. At the end, the invariant: the
// only certificates issued are those an identity entitled to approve caused.
func TestIssuanceAuthority(t *testing.T) {
	s := framework.StartServer(t, "", "--protected-groups", "system:masters,platform-admins")
	dir := t.TempDir()
	admin := s.Kubeconfig
	cp := &controlPlane{s: s, admin: admin}
	apply := func(kubeconfig, name, manifest string) framework.Result {
		return framework.Kubectl(t, kubeconfig, "apply", "-f", framework.WriteFile(t, dir, name+".yaml", manifest))
	}
	grant := func(name, rule string, extraRoles ...string) string {
		u := cp.newCertUser(t, dir, name, "/CN="+name+"/O=staff")
		framework.MustKubectl(t, admin, "apply", "-f", framework.WriteFile(t, dir, name+"-role.yaml",
			clusterRole(name, rule)+"---\n"+clusterRoleBinding(name, name, name)))
		for _, role := range extraRoles {
			framework.MustKubectl(t, admin, "create", "clusterrolebinding", name+"-"+strings.ReplaceAll(role, ":", "-"), "--clusterrole", role, "--user", name)
		}
		return u.kubeconfig
	}
	const allVerbs = `["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]`
	polly := grant("polly", `{apiGroups: ["kcsr.dev"], resources: ["approvalpolicies"], verbs: `+allVerbs+`}`)
	minty := grant("minty", `{apiGroups: ["kcsr.dev"], resources: ["jointokens", "jointokens/status", "bootstraptokens"], verbs: `+allVerbs+`}`)
	clerk := grant("clerk", `{apiGroups: ["certificates.k8s.io"], resources: ["certificatesigningrequests", "certificatesigningrequests/approval", "certificatesigningrequests/status"], verbs: `+allVerbs+`}`)
	rolly := grant("rolly", `{apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles", "clusterrolebindings"], verbs: `+allVerbs+`}`)
	anna := grant("anna", `{apiGroups: ["kcsr.dev"], resources: ["approvalpolicies", "jointokens"], verbs: `+allVerbs+`}`, clientApproverRole)
	framework.Eventually(t, 10*time.Second, "the bindings to take effect", func() bool {
		return canI(t, anna, "create", "approvalpolicies.kcsr.dev") == "yes" && canI(t, rolly, "create", "clusterrolebindings") == "yes"
	})

	// The victim: a pending request nobody entitled has approved.
	mustCreateCSRAs(t, dir, admin, "victim", clientSigner)
	framework.MustKubectl(t, admin, "apply", "-f", framework.WriteFile(t, dir, "team.yaml", framework.ApprovalPolicy("team", "example.com/team", "Approve", "")))

	const needsApprove = `which needs the verb "approve" on signers.certificates.k8s.io`
	steps := []struct {
		who, what string
		run       func() framework.Result
		wantErr   string // "" means allowed
	}{
		// ApprovalPolicy × create, update, patch, delete.
		{"polly", "create an approve-all policy", func() framework.Result {
			return apply(polly, "approve-all", framework.ApprovalPolicy("approve-all", clientSigner, "Approve", ""))
		}, `approvalpolicies.kcsr.dev "approve-all" is forbidden: user "polly" may not create ApprovalPolicy "approve-all": it can cause certificates of signer "kubernetes.io/kube-apiserver-client" to be issued, ` + needsApprove + ` "kubernetes.io/kube-apiserver-client" (or "kubernetes.io/*")`},
		{"polly", "create a deny-all policy for a domain", func() framework.Result {
			return apply(polly, "deny-all", framework.ApprovalPolicy("deny-all", "kubernetes.io/*", "Deny", ""))
		}, needsApprove + ` "kubernetes.io/*"`},
		{"polly", "patch a policy's rules", func() framework.Result {
			return framework.Kubectl(t, polly, "patch", "approvalpolicy", "team", "--type", "merge", "-p", `{"spec":{"signerNames":["kubernetes.io/kube-apiserver-client"]}}`)
		}, `user "polly" may not update ApprovalPolicy "team"`},
		{"polly", "replace a policy", func() framework.Result {
			return framework.Kubectl(t, polly, "replace", "-f", framework.WriteFile(t, dir, "team2.yaml", framework.ApprovalPolicy("team", clientSigner, "Approve", "")))
		}, `user "polly" may not update ApprovalPolicy "team"`},
		{"polly", "label a policy (metadata only)", func() framework.Result {
			return framework.Kubectl(t, polly, "label", "approvalpolicy", "team", "owner=polly")
		}, ""},
		{"polly", "delete a policy", func() framework.Result {
			return framework.Kubectl(t, polly, "delete", "approvalpolicy", "team")
		}, `user "polly" may not delete ApprovalPolicy "team"`},
		{"polly", "delete every policy", func() framework.Result {
			return framework.Kubectl(t, polly, "delete", "approvalpolicies", "--all")
		}, `user "polly" may not delete ApprovalPolicy "team"`},
		// JoinToken and BootstrapToken × create.
		{"minty", "mint a join token for root", func() framework.Result {
			return framework.Kcsr(t, minty, "token", "create", "--user", "root", "--group", "ops")
		}, `user "minty" may not create JoinToken`},
		{"minty", "mint a bootstrap token", func() framework.Result {
			return framework.Kcsr(t, minty, "token", "create", "--bootstrap")
		}, `user "minty" may not create BootstrapToken`},
		{"admin", "mint a join token for system:masters", func() framework.Result {
			return framework.Kcsr(t, admin, "token", "create", "--user", "root", "--group", "system:masters")
		}, `spec.groups: "system:masters" is a protected group`},
		{"anna", "mint a join token for a protected group", func() framework.Result {
			return framework.Kcsr(t, anna, "token", "create", "--user", "root", "--group", "platform-admins")
		}, `spec.groups: "platform-admins" is a protected group`},
		// CertificateSigningRequest × /approval, /status.
		{"clerk", "approve the victim", func() framework.Result {
			return framework.Kubectl(t, clerk, "certificate", "approve", "victim")
		}, `user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`},
		{"clerk", "write a certificate into the victim's status", func() framework.Result {
			// A well-formed certificate (the CA's own), so that only authorization can refuse.
			certificate := base64.StdEncoding.EncodeToString(mustRead(t, s.CACertPath()))
			return framework.Kubectl(t, clerk, "patch", "csr", "victim", "--subresource", "status", "--type", "merge", "-p", `{"status":{"certificate":"`+certificate+`"}}`)
		}, `user not permitted to sign requests with signerName "kubernetes.io/kube-apiserver-client"`},
		// The nodeclient rule: granting it is an RBAC escalation.
		{"rolly", "bind herself to the nodeclient auto-approval role", func() framework.Result {
			return framework.Kubectl(t, rolly, "create", "clusterrolebinding", "rolly-nodeclient", "--clusterrole", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", "--user", "rolly")
		}, `is attempting to grant RBAC permissions not currently held`},
		// The positive control: an approver may write policies and tokens for her signer.
		{"anna", "create a policy approving CN=friend", func() framework.Result {
			return apply(anna, "friends", framework.ApprovalPolicy("friends", clientSigner, "Approve", "friend"))
		}, ""},
		{"anna", "mint a join token for her signer", func() framework.Result {
			return framework.Kcsr(t, anna, "token", "create", "--user", "joiner", "--group", "dev")
		}, ""},
	}
	for _, st := range steps {
		r := st.run()
		switch {
		case st.wantErr == "" && r.ExitCode != 0:
			t.Errorf("%s: %s: refused: %s", st.who, st.what, r.Combined())
		case st.wantErr != "" && r.ExitCode == 0:
			t.Errorf("%s: %s: allowed, want it refused with %q:\n%s", st.who, st.what, st.wantErr, r.Combined())
		case st.wantErr != "" && !strings.Contains(r.Stderr, st.wantErr):
			t.Errorf("%s: %s: error\n%s\nwant it to contain\n%s", st.who, st.what, r.Stderr, st.wantErr)
		}
	}

	// anna's policy decides what it covers, and only that.
	mustCreateCSRAs(t, dir, admin, "friend", clientSigner)
	framework.WaitIssued(t, admin, "friend")

	// IssuedCertificate × delete, /status: an inventory keeper holding every RBAC verb but
	// revoke can neither lift nor make a revocation, nor drop a record to make its
	// certificate unrevocable.
	keeper := grant("keeper", `{apiGroups: ["kcsr.dev"], resources: ["issuedcertificates", "issuedcertificates/status"], verbs: `+allVerbs+`}`)
	framework.Eventually(t, 10*time.Second, "keeper's binding to take effect", func() bool {
		return canI(t, keeper, "delete", "issuedcertificates.kcsr.dev") == "yes"
	})
	record := framework.MustKubectl(t, admin, "get", "issuedcertificates", "-o", `jsonpath={.items[?(@.spec.csrName=="friend")].metadata.name}`)
	if record == "" {
		t.Fatal("no inventory record for friend")
	}
	// A bootstrap token's holder may create node CSRs, never approve.
	r := framework.Kcsr(t, admin, "token", "create", "--bootstrap")
	if r.ExitCode != 0 {
		t.Fatalf("admin mints a bootstrap token: %s", r.Combined())
	}
	bootstrapToken := strings.TrimSpace(r.Stdout)
	asBootstrap := func(args ...string) framework.Result {
		return framework.Run(t, "", framework.KubectlBinary(), append([]string{"--server", s.URL, "--certificate-authority", s.CACertPath(), "--token", bootstrapToken}, args...)...)
	}
	for _, st := range []struct {
		who, what string
		run       func() framework.Result
		wantErr   string
	}{
		{"keeper", "revoke a certificate", func() framework.Result {
			return framework.Kubectl(t, keeper, "patch", "issuedcertificate", record, "--subresource", "status", "--type", "merge", "-p", `{"status":{"revocation":{"reason":"keyCompromise","time":"2030-01-01T00:00:00Z"}}}`)
		}, `user "keeper" is not permitted to revoke issued certificates`},
		{"keeper", "delete a valid certificate's record", func() framework.Result {
			return framework.Kubectl(t, keeper, "delete", "issuedcertificate", record)
		}, "the record cannot be deleted before it expires"},
		{"keeper", "delete every record", func() framework.Result {
			return framework.Kubectl(t, keeper, "delete", "issuedcertificates", "--all")
		}, "cannot be deleted before it expires"},
		{"bootstrap token", "approve the victim", func() framework.Result { return asBootstrap("certificate", "approve", "victim") },
			`is forbidden`},
	} {
		r := st.run()
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, st.wantErr) {
			t.Errorf("%s: %s: want it refused with %q, got:\n%s", st.who, st.what, st.wantErr, r.Combined())
		}
	}
	if got := framework.MustKubectl(t, admin, "get", "issuedcertificate", record, "-o", "jsonpath={.status.revocation}"); got != "" {
		t.Errorf("friend's certificate was revoked by someone without revoke: %s", got)
	}
	time.Sleep(2 * time.Second) // time for any wrongly made policy to act on the victim
	if got := condition(t, admin, "victim"); got != "Pending" {
		t.Errorf("victim is %s; nobody entitled approved it", got)
	}
	if got := framework.MustKubectl(t, admin, "get", "approvalpolicies", "-o", "jsonpath={.items[*].metadata.name}"); got != "friends team" {
		t.Errorf("approval policies = %q, want the admin's and anna's only", got)
	}
	if got := framework.MustKubectl(t, admin, "get", "jointokens", "-o", "jsonpath={.items[*].spec.username}"); got != "joiner" {
		t.Errorf("join tokens for %q, want anna's only", got)
	}
	if got, want := framework.MustKubectl(t, admin, "get", "bootstraptokens", "-o", "jsonpath={.items[*].metadata.name}"), strings.Split(bootstrapToken, ".")[0]; got != want {
		t.Errorf("bootstrap tokens: %q, want the admin's only (%s)", got, want)
	}
	// The invariant, on the inventory: every certificate issued for a CSR answers one that
	// an entitled identity approved.
	var records kcsrv1alpha1.IssuedCertificateList
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, admin, "get", "issuedcertificates", "-o", "json")), &records); err != nil {
		t.Fatal(err)
	}
	var issuedFor []string
	for _, r := range records.Items {
		if r.Spec.CSRName != "" {
			issuedFor = append(issuedFor, r.Spec.CSRName)
		}
	}
	if !slices.Equal(issuedFor, []string{"friend"}) {
		t.Errorf("certificates were issued for CSRs %v, want [friend]", issuedFor)
	}
}

// TestJoinTokenScope: a join token grants exactly its subject (no name it does not list),
// and its identity creates one CSR and reads only its own.
func TestJoinTokenScope(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	admin := s.Kubeconfig
	newToken := func(args ...string) (token, id string) {
		r := framework.Run(t, "", framework.Binary(t), append([]string{"token", "create", "--user", "erin", "--group", "dev", "--kubeconfig", admin}, args...)...)
		if r.ExitCode != 0 {
			t.Fatalf("kcsr token create: %s", r.Combined())
		}
		token = strings.TrimSpace(r.Stdout)
		return token, strings.Split(token, ".")[0]
	}
	as := func(token string, args ...string) framework.Result {
		return framework.Run(t, "", framework.KubectlBinary(), append([]string{"--server", s.URL, "--certificate-authority", filepath.Join(s.DataDir, "pki", "ca.crt"), "--token", token}, args...)...)
	}
	// Someone else's request and certificate, which erin must not see.
	mustCreateCSRAs(t, dir, admin, "someone", clientSigner)
	framework.MustKubectl(t, admin, "certificate", "approve", "someone")
	framework.WaitIssued(t, admin, "someone")

	// A token for CN=erin, O=dev does not grant the API server's name or a SPIFFE ID.
	token, id := newToken()
	names := framework.GoCSR(t, dir, "erin-names", "erin", []string{"dev"}, []string{"kubernetes.default.svc"}, nil)
	if r := as(token, "create", "-f", framework.WriteFile(t, dir, "names.yaml", framework.CSRManifest("erin-names", names, clientSigner, 3600, "client auth"))); r.ExitCode != 0 {
		t.Fatalf("create: %s", r.Combined())
	}
	wantDenied(t, admin, "erin-names", "JoinTokenMismatch", `join token `+id+` does not allow the request's DNS name "kubernetes.default.svc"`)
	if got := framework.MustKubectl(t, admin, "get", "csr", "erin-names", "-o", "jsonpath={.status.certificate}"); got != "" {
		t.Errorf("a certificate was issued for names the token does not list")
	}

	// A denied request leaves the token unspent: erin tries again, without the names.
	plain := framework.GoCSR(t, dir, "erin", "erin", []string{"dev"}, nil, nil)
	if r := as(token, "create", "-f", framework.WriteFile(t, dir, "erin.yaml", framework.CSRManifest("erin", plain, clientSigner, 3600, "client auth"))); r.ExitCode != 0 {
		t.Fatalf("create after a denial: %s", r.Combined())
	}
	framework.WaitIssued(t, admin, "erin")

	// Erin reads her own requests only: list, get and watch.
	list := as(token, "get", "csr", "-o", "name")
	if list.ExitCode != 0 || strings.TrimSpace(list.Stdout) != "certificatesigningrequest.certificates.k8s.io/erin\ncertificatesigningrequest.certificates.k8s.io/erin-names" {
		t.Errorf("erin lists:\n%s", list.Combined())
	}
	if r := as(token, "get", "csr", "someone"); r.ExitCode == 0 || !strings.Contains(r.Stderr, `certificatesigningrequests.certificates.k8s.io "someone" not found`) {
		t.Errorf("erin gets someone else's CSR: %s", r.Combined())
	}
	if r := as(token, "get", "csr", "erin", "-o", "jsonpath={.status.certificate}"); r.ExitCode != 0 || r.Stdout == "" {
		t.Errorf("erin cannot collect her certificate: %s", r.Combined())
	}
	// The watch: the list, then an event for each change to erin's CSR, none for others'.
	watched := make(chan framework.Result)
	go func() { watched <- as(token, "get", "csr", "--watch", "--request-timeout", "5s", "-o", "name") }()
	time.Sleep(2 * time.Second)
	framework.MustKubectl(t, admin, "annotate", "csr", "someone", "touched=1")
	framework.MustKubectl(t, admin, "annotate", "csr", "erin", "touched=1")
	watch := <-watched
	erinLines := strings.Count(watch.Stdout, "certificatesigningrequest.certificates.k8s.io/erin\n")
	if strings.Contains(watch.Stdout, "someone") || erinLines < 2 {
		t.Errorf("erin's watch shows (want erin listed, then her change; nothing of someone's):\n%s", watch.Combined())
	}
	// Nor can she approve, even her own.
	if r := as(token, "certificate", "approve", "erin-names"); r.ExitCode == 0 {
		t.Errorf("erin approved her own CSR: %s", r.Combined())
	}

	// The spent token creates no other CSR.
	again := framework.GoCSR(t, dir, "erin2", "erin", []string{"dev"}, nil, nil)
	r := as(token, "create", "-f", framework.WriteFile(t, dir, "erin2.yaml", framework.CSRManifest("erin-2", again, clientSigner, 3600, "client auth")))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `join token `+id+` was already used for CSR "erin"`) {
		t.Errorf("second CSR with a spent token: %s", r.Combined())
	}

	// A token that lists the names grants them.
	token2, _ := newToken("--dns-name", "erin.example.com", "--uri", "spiffe://example.com/erin")
	listed := framework.GoCSR(t, dir, "erin-listed", "erin", []string{"dev"}, []string{"erin.example.com"}, nil)
	if r := as(token2, "create", "-f", framework.WriteFile(t, dir, "listed.yaml", framework.CSRManifest("erin-listed", listed, clientSigner, 3600, "client auth"))); r.ExitCode != 0 {
		t.Fatalf("create with listed names: %s", r.Combined())
	}
	framework.WaitIssued(t, admin, "erin-listed")
	// And an invalid name is refused when the token is made.
	if r := framework.Run(t, "", framework.Binary(t), "token", "create", "--user", "erin", "--ip-address", "10.0.0.1/8", "--kubeconfig", admin); r.ExitCode == 0 || !strings.Contains(r.Stderr, "spec.ipAddresses[0]") {
		t.Errorf("token with an invalid IP: %s", r.Combined())
	}
}
