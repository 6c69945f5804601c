package doctor

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/pkg/authz/bootstrap"
)

func role(name string, rules ...rbacv1.PolicyRule) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func binding(name, roleName string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: roleName}, Subjects: subjects}
}

func group(name string) rbacv1.Subject { return rbacv1.Subject{Kind: rbacv1.GroupKind, Name: name} }
func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, Name: name}
}

var (
	approveRule = func(names ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: []string{"approve"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"}, ResourceNames: names}
	}
	updateApprovalRule = rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests/approval"}}
)

func TestFindApprovers(t *testing.T) {
	const client = "kubernetes.io/kube-apiserver-client"
	defaults := bootstrap.ClusterRoles()
	defaultBindings := bootstrap.ClusterRoleBindings()
	approverRole := role("csr-approver", approveRule(client), updateApprovalRule)
	domainRole := role("example-approver", approveRule("example.com/*"), updateApprovalRule)

	cases := []struct {
		name       string
		signerName string
		roles      []rbacv1.ClusterRole
		bindings   []rbacv1.ClusterRoleBinding
		want       Approvers
		wantLine   string
	}{
		{
			name: "kcsr's defaults: only system:masters", signerName: client,
			roles: defaults, bindings: defaultBindings,
			want:     Approvers{UnboundRoles: []string{"system:certificates.k8s.io:kube-apiserver-client-approver"}},
			wantLine: `✗ approvers: nobody but system:masters can approve CSRs of signer "kubernetes.io/kube-apiserver-client": ClusterRole system:certificates.k8s.io:kube-apiserver-client-approver grants approve on it, but no ClusterRoleBinding gives it to anyone else: a cluster administrator approves it (kcsr approve rahul), or binds the approvers to a ClusterRole with approve on signers "kubernetes.io/kube-apiserver-client" and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)`,
		},
		{
			name: "a custom signer nobody names", signerName: "example.com/x",
			roles: defaults, bindings: defaultBindings,
			want:     Approvers{},
			wantLine: `✗ approvers: nobody but system:masters can approve CSRs of signer "example.com/x": no ClusterRole grants approve on it: a cluster administrator approves it (kcsr approve rahul), or binds the approvers to a ClusterRole with approve on signers "example.com/x" and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)`,
		},
		{
			name: "a bound approver role", signerName: client,
			roles:    append(defaults, approverRole),
			bindings: append(defaultBindings, binding("csr-approvers", "csr-approver", group("security"), userSubject("alice"))),
			want: Approvers{
				Approvers:    []Approver{{Subject: "group security", Bindings: []string{"csr-approvers"}, UpdateApproval: true}, {Subject: "user alice", Bindings: []string{"csr-approvers"}, UpdateApproval: true}},
				UnboundRoles: []string{"system:certificates.k8s.io:kube-apiserver-client-approver"},
			},
			wantLine: `✓ approvers: group security (ClusterRoleBinding csr-approvers), user alice (ClusterRoleBinding csr-approvers) may approve CSRs of signer "kubernetes.io/kube-apiserver-client"`,
		},
		{
			name: "the upstream approver role alone lacks update on /approval", signerName: client,
			roles:    defaults,
			bindings: append(defaultBindings, binding("approvers", "system:certificates.k8s.io:kube-apiserver-client-approver", userSubject("bob"))),
			want:     Approvers{Approvers: []Approver{{Subject: "user bob", Bindings: []string{"approvers"}}}},
			wantLine: `✗ approvers: nobody but system:masters can approve CSRs of signer "kubernetes.io/kube-apiserver-client": user bob (ClusterRoleBinding approvers) holds approve on the signer but not update on certificatesigningrequests/approval, which approving also needs: a cluster administrator approves it (kcsr approve rahul), or binds the approvers to a ClusterRole with approve on signers "kubernetes.io/kube-apiserver-client" and update on certificatesigningrequests/approval (kubectl create clusterrolebinding NAME --clusterrole=ROLE --group=GROUP)`,
		},
		{
			name: "update from another binding, and a service account", signerName: client,
			roles: append(defaults, role("updater", updateApprovalRule)),
			bindings: append(defaultBindings,
				binding("approvers", "system:certificates.k8s.io:kube-apiserver-client-approver", userSubject("bob"), rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "ops", Name: "approver"}),
				binding("updaters", "updater", userSubject("bob"))),
			want: Approvers{Approvers: []Approver{
				{Subject: "serviceaccount ops/approver", Bindings: []string{"approvers"}},
				{Subject: "user bob", Bindings: []string{"approvers"}, UpdateApproval: true},
			}},
			wantLine: `✓ approvers: user bob (ClusterRoleBinding approvers) may approve CSRs of signer "kubernetes.io/kube-apiserver-client"; serviceaccount ops/approver (ClusterRoleBinding approvers) also holds approve on the signer but not update on certificatesigningrequests/approval`,
		},
		{
			name: "a domain wildcard", signerName: "example.com/webhooks",
			roles: append(defaults, domainRole), bindings: append(defaultBindings, binding("example", "example-approver", group("platform"))),
			want:     Approvers{Approvers: []Approver{{Subject: "group platform", Bindings: []string{"example"}, UpdateApproval: true}}},
			wantLine: `✓ approvers: group platform (ClusterRoleBinding example) may approve CSRs of signer "example.com/webhooks"`,
		},
		{
			name: "cluster-admin bound to a person", signerName: "example.com/webhooks",
			roles: defaults, bindings: append(defaultBindings, binding("admins", "cluster-admin", userSubject("root"))),
			want:     Approvers{Approvers: []Approver{{Subject: "user root", Bindings: []string{"admins"}, UpdateApproval: true}}},
			wantLine: `✓ approvers: user root (ClusterRoleBinding admins) may approve CSRs of signer "example.com/webhooks"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := FindApprovers(tc.signerName, tc.roles, tc.bindings)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("FindApprovers (-want +got):\n%s", diff)
			}
			if line := CheckApprovers("rahul", tc.signerName, got, nil).String(); line != tc.wantLine {
				t.Errorf("CheckApprovers:\n got: %s\nwant: %s", line, tc.wantLine)
			}
		})
	}
}

func TestCheckApproversError(t *testing.T) {
	got := CheckApprovers("rahul", "example.com/x", Approvers{}, errors.New("listing clusterrolebindings is forbidden"))
	want := `⚠ approvers: cannot tell who may approve signer "example.com/x" (listing clusterrolebindings is forbidden): run kcsr doctor as a cluster administrator to see`
	if got.String() != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
