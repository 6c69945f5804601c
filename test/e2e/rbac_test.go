package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"kcsr.dev/kcsr/test/e2e/framework"
)

const clientApproverRole = "system:certificates.k8s.io:kube-apiserver-client-approver"

// testRBACAcceptance is acceptance (b) of issue 2: a user with an openssl-made client
// certificate and no grant gets 403 on create and approve; with CSR rights but no signer
// rights the approval admission check refuses; with Kubernetes' approver ClusterRole bound,
// approve works; `kubectl auth can-i` and `kubectl auth whoami` agree at every stage.
func testRBACAcceptance(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	alice := cp.newCertUser(t, dir, "alice", "/CN=alice/O=dev")
	fingerprint := framework.SHA256Fingerprint(t, alice.cert)
	credentialID := "X509SHA256=" + fingerprint

	t.Run("whoami", func(t *testing.T) {
		var review authenticationv1.SelfSubjectReview
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, alice.kubeconfig, "auth", "whoami", "-o", "json")), &review); err != nil {
			t.Fatal(err)
		}
		want := authenticationv1.UserInfo{
			Username: "alice",
			Groups:   []string{"dev", "system:authenticated"},
			Extra:    map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {credentialID}},
		}
		if diff := cmp.Diff(want, review.Status.UserInfo); diff != "" {
			t.Errorf("auth whoami -o json (-want +got):\n%s", diff)
		}
		table := framework.MustKubectl(t, alice.kubeconfig, "auth", "whoami")
		wantTable := [][]string{
			{"ATTRIBUTE", "VALUE"},
			{"Username", "alice"},
			{"Groups", "[dev", "system:authenticated]"},
			{"Extra:", "authentication.kubernetes.io/credential-id", "[" + credentialID + "]"},
		}
		if diff := cmp.Diff(wantTable, framework.TableRows(table)); diff != "" {
			t.Errorf("auth whoami (-want +got):\n%s\n%s", diff, table)
		}
	})

	// The admin's CSR that alice will try to decide on.
	mustCreateCSRAs(t, dir, cp.admin, "alice-target", clientSigner)
	mustCreateCSRAs(t, dir, cp.admin, "alice-other-signer", "example.com/foo")

	// Stage 1: no grant at all.
	t.Run("no grant", func(t *testing.T) {
		r, path := createCSRAs(t, dir, alice.kubeconfig, "alice-denied", clientSigner)
		wantStderr(t, "create as alice", r, `Error from server (Forbidden): error when creating "`+path+`": certificatesigningrequests.certificates.k8s.io is forbidden: User "alice" cannot create resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope`)
		if g := framework.Kubectl(t, cp.admin, "get", "csr", "alice-denied"); g.ExitCode == 0 {
			t.Errorf("a forbidden create stored the CSR")
		}

		// kubectl reads the CSR before it approves: that read is already refused.
		wantStderr(t, "kubectl certificate approve as alice", framework.Kubectl(t, alice.kubeconfig, "certificate", "approve", "alice-target"),
			`Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "alice-target" is forbidden: User "alice" cannot get resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope`)
		// The PUT on /approval itself, with an Approved condition added.
		wantStderr(t, "PUT /approval as alice", putApproval(t, cp, dir, alice.kubeconfig, "alice-target", certificatesv1.CertificateApproved),
			`Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "alice-target" is forbidden: User "alice" cannot update resource "certificatesigningrequests/approval" in API group "certificates.k8s.io" at the cluster scope`)

		checkAccess(t, cp, alice, access{createCSR: false, updateApproval: false, approveClientSigner: false})
	})

	// Stage 2: CSR rights and the approval subresource, but no signer.
	framework.MustKubectl(t, cp.admin, "apply", "-f", framework.WriteFile(t, dir, "requester.yaml", framework.CSRRequesterRole("csr-requester", "alice")))
	t.Run("requester without signer", func(t *testing.T) {
		framework.Eventually(t, 10*time.Second, "alice's ClusterRoleBinding to take effect", func() bool {
			return canI(t, alice.kubeconfig, "create", "certificatesigningrequests") == "yes"
		})
		checkAccess(t, cp, alice, access{createCSR: true, updateApproval: true, approveClientSigner: false})

		// She can create now, and the CSR carries her identity.
		mustCreateCSRAs(t, dir, alice.kubeconfig, "alice-own", clientSigner)
		own := cp.getCSR(t, "alice-own")
		wantSpec := certificatesv1.CertificateSigningRequestSpec{
			Username: "alice",
			Groups:   []string{"dev", "system:authenticated"},
			Extra:    map[string]certificatesv1.ExtraValue{"authentication.kubernetes.io/credential-id": {credentialID}},
		}
		gotSpec := certificatesv1.CertificateSigningRequestSpec{Username: own.Spec.Username, UID: own.Spec.UID, Groups: own.Spec.Groups, Extra: own.Spec.Extra}
		if diff := cmp.Diff(wantSpec, gotSpec); diff != "" {
			t.Errorf("identity recorded on alice's CSR (-want +got):\n%s", diff)
		}

		// Approve and deny both need `approve` on the signer (CertificateApproval admission).
		forbidden := `Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "alice-target" is forbidden: user not permitted to approve requests with signerName "kubernetes.io/kube-apiserver-client"`
		wantStderr(t, "approve without signer rights", framework.Kubectl(t, alice.kubeconfig, "certificate", "approve", "alice-target"), forbidden)
		wantStderr(t, "deny without signer rights", framework.Kubectl(t, alice.kubeconfig, "certificate", "deny", "alice-target"), forbidden)
		if got := conditionTypes(cp.getCSR(t, "alice-target")); len(got) != 0 {
			t.Errorf("refused decisions were stored: conditions %v", got)
		}
	})

	// Stage 3: Kubernetes' approver ClusterRole for the kube-apiserver-client signer.
	framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "alice-client-approver", "--clusterrole", clientApproverRole, "--user", "alice")
	t.Run("approver", func(t *testing.T) {
		framework.Eventually(t, 10*time.Second, "the approver binding to take effect", func() bool {
			return selfAccessReview(t, alice.kubeconfig, "approve", "signers", clientSigner)
		})
		checkAccess(t, cp, alice, access{createCSR: true, updateApproval: true, approveClientSigner: true})

		wantStdout(t, "approve with the approver role", framework.Kubectl(t, alice.kubeconfig, "certificate", "approve", "alice-target"),
			"certificatesigningrequest.certificates.k8s.io/alice-target approved")
		target := cp.getCSR(t, "alice-target")
		if got := conditionTypes(target); !slices.Equal(got, []string{"Approved"}) || target.Status.Conditions[0].Reason != "KubectlApprove" || target.Status.Conditions[0].Status != corev1.ConditionTrue {
			t.Errorf("after alice's approve: conditions %+v, want one Approved/True/KubectlApprove", target.Status.Conditions)
		}
		wantStdout(t, "deny with the approver role", framework.Kubectl(t, alice.kubeconfig, "certificate", "deny", "alice-own"),
			"certificatesigningrequest.certificates.k8s.io/alice-own denied")
		if got := conditionTypes(cp.getCSR(t, "alice-own")); !slices.Equal(got, []string{"Denied"}) {
			t.Errorf("after alice's deny: conditions %v, want [Denied]", got)
		}
		// The role names one signer; others stay refused.
		wantStderr(t, "approve for another signer", framework.Kubectl(t, alice.kubeconfig, "certificate", "approve", "alice-other-signer"),
			`Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "alice-other-signer" is forbidden: user not permitted to approve requests with signerName "example.com/foo"`)
	})

	t.Run("can-i --list", func(t *testing.T) {
		for _, kc := range []struct{ name, kubeconfig string }{{"as alice", alice.kubeconfig}, {"as admin --as alice", cp.admin}} {
			args := []string{"auth", "can-i", "--list"}
			if kc.kubeconfig == cp.admin {
				args = append(args, "--as", "alice")
			}
			rows := framework.TableRows(framework.MustKubectl(t, kc.kubeconfig, args...))
			for _, want := range [][]string{
				{"Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"},
				{"signers.certificates.k8s.io", "[]", "[" + clientSigner + "]", "[approve]"},
				{"certificatesigningrequests.certificates.k8s.io", "[]", "[]", "[get", "list", "create]"},
				{"certificatesigningrequests.certificates.k8s.io/approval", "[]", "[]", "[update]"},
				{"selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"},
				{"selfsubjectreviews.authentication.k8s.io", "[]", "[]", "[create]"},
				{"[/healthz]", "[]", "[get]"},
			} {
				if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
					t.Errorf("%s: auth can-i --list lacks the row %v:\n%v", kc.name, want, rows)
				}
			}
		}
	})
}

// testSignerWildcard: `approve` on signers with resourceName `<domain>/*` covers every signer
// of that domain and no other (reference §5).
func testSignerWildcard(t *testing.T, cp *controlPlane) {
	dir := t.TempDir()
	walt := cp.newCertUser(t, dir, "walt", "/CN=walt/O=dev")
	framework.MustKubectl(t, cp.admin, "apply", "-f", framework.WriteFile(t, dir, "requester.yaml", framework.CSRRequesterRole("csr-requester-walt", "walt")))
	// kubectl create clusterrole refuses `signers` (not a discoverable resource): a manifest.
	framework.MustKubectl(t, cp.admin, "apply", "-f", framework.WriteFile(t, dir, "wildcard.yaml",
		clusterRole("example-com-approver", `{apiGroups: ["certificates.k8s.io"], resources: ["signers"], resourceNames: ["example.com/*"], verbs: ["approve"]}`)))
	framework.MustKubectl(t, cp.admin, "create", "clusterrolebinding", "walt-example-com-approver", "--clusterrole", "example-com-approver", "--user", "walt")
	for _, name := range []string{"wild-foo", "wild-bar", "wild-org"} {
		signer := "example.com/" + strings.TrimPrefix(name, "wild-")
		if name == "wild-org" {
			signer = "example.org/foo"
		}
		mustCreateCSRAs(t, dir, cp.admin, name, signer)
	}
	// RBAC matches resourceNames literally: the review asks about "example.com/*" itself; the
	// admission check asks for the signer's name and then for "<domain>/*".
	framework.Eventually(t, 10*time.Second, "walt's bindings to take effect", func() bool {
		return selfAccessReview(t, walt.kubeconfig, "approve", "signers", "example.com/*")
	})
	if selfAccessReview(t, walt.kubeconfig, "approve", "signers", "example.com/foo") {
		t.Errorf(`SelfSubjectAccessReview approve signers "example.com/foo" is allowed by resourceNames ["example.com/*"]; RBAC matches names literally`)
	}
	cases := []struct{ name, csr, want string }{
		{"example.com/foo", "wild-foo", "certificatesigningrequest.certificates.k8s.io/wild-foo approved"},
		{"example.com/bar", "wild-bar", "certificatesigningrequest.certificates.k8s.io/wild-bar approved"},
		{"example.org/foo", "wild-org", `Error from server (Forbidden): certificatesigningrequests.certificates.k8s.io "wild-org" is forbidden: user not permitted to approve requests with signerName "example.org/foo"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := framework.Kubectl(t, walt.kubeconfig, "certificate", "approve", tc.csr)
			if strings.HasPrefix(tc.want, "Error") {
				wantStderr(t, "approve", r, tc.want)
			} else {
				wantStdout(t, "approve", r, tc.want)
			}
		})
	}
}

// access is what a user may do at one stage of the acceptance test.
type access struct {
	createCSR, updateApproval, approveClientSigner bool
}

// checkAccess asks the server what alice may do in every way kubectl and the API offer: `kubectl
// auth can-i` as alice and as the admin impersonating her, a SelfSubjectAccessReview and a
// SubjectAccessReview for the signer.
func checkAccess(t *testing.T, cp *controlPlane, u certUser, want access) {
	t.Helper()
	yesNo := map[bool]string{true: "yes", false: "no"}
	asAdmin := []string{"--as", u.name}
	for _, c := range []struct {
		what string
		args []string
		want bool
	}{
		{"create certificatesigningrequests", []string{"create", "certificatesigningrequests"}, want.createCSR},
		{"create csr (short name)", []string{"create", "csr"}, want.createCSR},
		{"update certificatesigningrequests/approval", []string{"update", "certificatesigningrequests", "--subresource=approval"}, want.updateApproval},
	} {
		if got := canI(t, u.kubeconfig, c.args...); got != yesNo[c.want] {
			t.Errorf("kubectl auth can-i %s (as %s) = %q, want %q", c.what, u.name, got, yesNo[c.want])
		}
		if got := canI(t, cp.admin, append(c.args, asAdmin...)...); got != yesNo[c.want] {
			t.Errorf("kubectl auth can-i %s --as %s = %q, want %q", c.what, u.name, got, yesNo[c.want])
		}
	}

	// `signers` is not a discoverable resource (not in Kubernetes either), so kubectl sends
	// the literal "signers.certificates.k8s.io" in the core group and the answer is always
	// "no", with a warning. It is kubectl's limitation, and it must stay the same here.
	signerArg := "signers.certificates.k8s.io/" + clientSigner
	for _, kc := range [][]string{{u.kubeconfig}, {cp.admin, "--as", u.name}} {
		r := framework.Kubectl(t, kc[0], append([]string{"auth", "can-i", "approve", signerArg}, kc[1:]...)...)
		if strings.TrimSpace(r.Stdout) != "no" || !strings.Contains(r.Stderr, "Warning: the server doesn't have a resource type 'signers' in group 'certificates.k8s.io'") {
			t.Errorf("kubectl auth can-i approve %s %v: %q %q; want kubectl's 'no' and its warning about signers", signerArg, kc[1:], r.Stdout, r.Stderr)
		}
	}
	// The questions that do work for signers: the review APIs themselves.
	if got := selfAccessReview(t, u.kubeconfig, "approve", "signers", clientSigner); got != want.approveClientSigner {
		t.Errorf("SelfSubjectAccessReview approve signers/%s as %s: allowed=%v, want %v", clientSigner, u.name, got, want.approveClientSigner)
	}
	if got := subjectAccessReview(t, cp.admin, u.name, []string{"dev", "system:authenticated"}, "approve", "signers", clientSigner); got != want.approveClientSigner {
		t.Errorf("SubjectAccessReview approve signers/%s for %s: allowed=%v, want %v", clientSigner, u.name, got, want.approveClientSigner)
	}
}

// canI runs `kubectl auth can-i` and returns "yes" or "no"; the exit code must agree.
func canI(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	r := framework.Kubectl(t, kubeconfig, append([]string{"auth", "can-i"}, args...)...)
	got := strings.TrimSpace(r.Stdout)
	if (got == "yes") != (r.ExitCode == 0) || (got != "yes" && got != "no") {
		t.Fatalf("kubectl auth can-i %v: exit %d, stdout %q, stderr %q", args, r.ExitCode, r.Stdout, r.Stderr)
	}
	return got
}

// selfAccessReview posts a SelfSubjectAccessReview for a certificates.k8s.io resource.
func selfAccessReview(t *testing.T, kubeconfig, verb, resource, name string) bool {
	t.Helper()
	review := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{"resourceAttributes":{"group":"certificates.k8s.io","resource":%q,"verb":%q,"name":%q}}}`, resource, verb, name)
	return reviewAllowed(t, kubeconfig, review)
}

// subjectAccessReview posts a SubjectAccessReview for user and groups.
func subjectAccessReview(t *testing.T, kubeconfig, user string, groups []string, verb, resource, name string) bool {
	t.Helper()
	g, _ := json.Marshal(groups)
	review := fmt.Sprintf(`{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":%q,"groups":%s,"resourceAttributes":{"group":"certificates.k8s.io","resource":%q,"verb":%q,"name":%q}}}`, user, g, resource, verb, name)
	return reviewAllowed(t, kubeconfig, review)
}

func reviewAllowed(t *testing.T, kubeconfig, review string) bool {
	t.Helper()
	r := framework.KubectlStdin(t, kubeconfig, review, "create", "-f", "-", "-o", "jsonpath={.status.allowed}")
	if r.ExitCode != 0 {
		t.Fatalf("access review %s: exit %d\n%s", review, r.ExitCode, r.Combined())
	}
	switch r.Stdout {
	case "true":
		return true
	case "false":
		return false
	}
	t.Fatalf("access review %s: status.allowed = %q", review, r.Stdout)
	return false
}

// putApproval PUTs the CSR to /approval as the given user, with a condition of type cond
// appended (what kubectl certificate approve sends), and returns kubectl's outcome.
func putApproval(t *testing.T, cp *controlPlane, dir, kubeconfig, name string, cond certificatesv1.RequestConditionType) framework.Result {
	t.Helper()
	csr := cp.getCSR(t, name)
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: cond, Status: corev1.ConditionTrue, Reason: "E2E", Message: "set by the e2e test",
	})
	body, err := json.Marshal(csr)
	if err != nil {
		t.Fatal(err)
	}
	path := framework.WriteFile(t, dir, filepath.Base(name)+"-approval.json", string(body))
	return framework.Kubectl(t, kubeconfig, "replace", "--raw", "/apis/certificates.k8s.io/v1/certificatesigningrequests/"+name+"/approval", "-f", path)
}
