package bootstrap

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/apis/rbac/validation"
	"kcsr.dev/kcsr/pkg/authz/rbac"
)

func rolesByName(t *testing.T) map[string]rbacv1.ClusterRole {
	t.Helper()
	out := map[string]rbacv1.ClusterRole{}
	for _, r := range ClusterRoles() {
		if _, dup := out[r.Name]; dup {
			t.Fatalf("duplicate ClusterRole %q", r.Name)
		}
		out[r.Name] = r
	}
	return out
}

func TestClusterRoleNames(t *testing.T) {
	var got []string
	for _, r := range ClusterRoles() {
		got = append(got, r.Name)
	}
	want := []string{
		"cluster-admin",
		"system:discovery",
		"system:basic-user",
		"system:public-info-viewer",
		"system:node-bootstrapper",
		"system:certificates.k8s.io:certificatesigningrequests:nodeclient",
		"system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
		"kcsr:joiner",
		"kcsr:self-renewal",
		"kcsr:revoker",
		"system:certificates.k8s.io:legacy-unknown-approver",
		"system:certificates.k8s.io:kubelet-serving-approver",
		"system:certificates.k8s.io:kube-apiserver-client-approver",
		"system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
		"system:controller:certificate-controller",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ClusterRole names (-want +got):\n%s", diff)
	}
}

func TestCSRRoleRules(t *testing.T) {
	roles := rolesByName(t)
	csr := []string{"certificates.k8s.io"}
	tests := map[string][]rbacv1.PolicyRule{
		NodeClient:                         {{Verbs: []string{"create"}, APIGroups: csr, Resources: []string{"certificatesigningrequests/nodeclient"}}},
		SelfNodeClient:                     {{Verbs: []string{"create"}, APIGroups: csr, Resources: []string{"certificatesigningrequests/selfnodeclient"}}},
		KubeAPIServerClientApprover:        {{Verbs: []string{"approve"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/kube-apiserver-client"}}},
		KubeAPIServerClientKubeletApprover: {{Verbs: []string{"approve"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/kube-apiserver-client-kubelet"}}},
		KubeletServingApprover:             {{Verbs: []string{"approve"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/kubelet-serving"}}},
		LegacyUnknownApprover:              {{Verbs: []string{"approve"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/legacy-unknown"}}},
		NodeBootstrapper:                   {{Verbs: []string{"create", "get", "list", "watch"}, APIGroups: csr, Resources: []string{"certificatesigningrequests"}}},
		CertificateController: {
			{Verbs: []string{"get", "list", "watch", "delete"}, APIGroups: csr, Resources: []string{"certificatesigningrequests"}},
			{Verbs: []string{"update"}, APIGroups: csr, Resources: []string{"certificatesigningrequests/status", "certificatesigningrequests/approval"}},
			{Verbs: []string{"approve"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/kube-apiserver-client-kubelet"}},
			{Verbs: []string{"sign"}, APIGroups: csr, Resources: []string{"signers"}, ResourceNames: []string{
				"kubernetes.io/legacy-unknown", "kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving",
			}},
			{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}},
			{Verbs: []string{"create", "update", "patch"}, APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}},
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(want, roles[name].Rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadataAndValidity(t *testing.T) {
	wantLabels := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	wantAnnotations := map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}
	for _, r := range ClusterRoles() {
		if diff := cmp.Diff(wantLabels, r.Labels); diff != "" {
			t.Errorf("ClusterRole %s labels (-want +got):\n%s", r.Name, diff)
		}
		if diff := cmp.Diff(wantAnnotations, r.Annotations); diff != "" {
			t.Errorf("ClusterRole %s annotations (-want +got):\n%s", r.Name, diff)
		}
		if errs := validation.ValidateClusterRole(&r); len(errs) > 0 {
			t.Errorf("ClusterRole %s is invalid: %v", r.Name, errs)
		}
	}
	roles := rolesByName(t)
	for _, b := range ClusterRoleBindings() {
		if diff := cmp.Diff(wantLabels, b.Labels); diff != "" {
			t.Errorf("ClusterRoleBinding %s labels (-want +got):\n%s", b.Name, diff)
		}
		if diff := cmp.Diff(wantAnnotations, b.Annotations); diff != "" {
			t.Errorf("ClusterRoleBinding %s annotations (-want +got):\n%s", b.Name, diff)
		}
		if errs := validation.ValidateClusterRoleBinding(&b); len(errs) > 0 {
			t.Errorf("ClusterRoleBinding %s is invalid: %v", b.Name, errs)
		}
		if _, ok := roles[b.RoleRef.Name]; !ok {
			t.Errorf("ClusterRoleBinding %s refers to unknown role %q", b.Name, b.RoleRef.Name)
		}
	}
}

func TestBindings(t *testing.T) {
	got := map[string][]string{}
	for _, b := range ClusterRoleBindings() {
		for _, s := range b.Subjects {
			got[b.Name] = append(got[b.Name], b.RoleRef.Name+" → "+s.Kind+":"+s.Name)
		}
	}
	want := map[string][]string{
		"cluster-admin":             {"cluster-admin → Group:system:masters"},
		"system:discovery":          {"system:discovery → Group:system:authenticated"},
		"system:basic-user":         {"system:basic-user → Group:system:authenticated"},
		"system:public-info-viewer": {"system:public-info-viewer → Group:system:authenticated", "system:public-info-viewer → Group:system:unauthenticated"},
		// kubeadm's bindings, for the bootstrap tokens kcsr issues.
		"kcsr:kubelet-bootstrap":                     {"system:node-bootstrapper → Group:system:bootstrappers"},
		"kcsr:node-autoapprove-bootstrap":            {NodeClient + " → Group:system:bootstrappers"},
		"kcsr:node-autoapprove-certificate-rotation": {SelfNodeClient + " → Group:system:nodes"},
		"kcsr:node-certificate-rotation":             {"system:node-bootstrapper → Group:system:nodes"},
		"kcsr:joiner":                                {"kcsr:joiner → Group:system:kcsr:joiners"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bindings (-want +got):\n%s", diff)
	}
}

// staticPolicy serves the default policy to the RBAC authorizer.
type staticPolicy struct {
	roles    map[string]*rbacv1.ClusterRole
	bindings []*rbacv1.ClusterRoleBinding
}

func (p staticPolicy) GetClusterRole(_ context.Context, name string) (*rbacv1.ClusterRole, error) {
	return p.roles[name], nil
}

func (p staticPolicy) ListClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return p.bindings, nil
}

func TestDefaultPolicyDecisions(t *testing.T) {
	p := staticPolicy{roles: map[string]*rbacv1.ClusterRole{}}
	for _, r := range ClusterRoles() {
		p.roles[r.Name] = &r
	}
	for _, b := range ClusterRoleBindings() {
		p.bindings = append(p.bindings, &b)
	}
	authz := rbac.New(p, p)

	authenticated := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	anonymous := &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
	master := &user.DefaultInfo{Name: "root", Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}
	url := func(u user.Info, path string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: "get", Path: path}
	}
	resource := func(u user.Info, verb, group, res string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: group, Resource: res, ResourceRequest: true}
	}
	tests := []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{"authenticated discovery", url(authenticated, "/apis/certificates.k8s.io/v1"), authorizer.DecisionAllow},
		{"authenticated openapi", url(authenticated, "/openapi/v3"), authorizer.DecisionAllow},
		{"authenticated SSAR", resource(authenticated, "create", "authorization.k8s.io", "selfsubjectaccessreviews"), authorizer.DecisionAllow},
		{"authenticated SSRR", resource(authenticated, "create", "authorization.k8s.io", "selfsubjectrulesreviews"), authorizer.DecisionAllow},
		{"authenticated whoami", resource(authenticated, "create", "authentication.k8s.io", "selfsubjectreviews"), authorizer.DecisionAllow},
		{"authenticated cannot list CSRs", resource(authenticated, "list", "certificates.k8s.io", "certificatesigningrequests"), authorizer.DecisionNoOpinion},
		{"anonymous healthz", url(anonymous, "/healthz"), authorizer.DecisionAllow},
		{"anonymous version", url(anonymous, "/version"), authorizer.DecisionAllow},
		{"anonymous no discovery", url(anonymous, "/apis"), authorizer.DecisionNoOpinion},
		{"anonymous no SSAR", resource(anonymous, "create", "authorization.k8s.io", "selfsubjectaccessreviews"), authorizer.DecisionNoOpinion},
		{"masters anything", resource(master, "delete", "rbac.authorization.k8s.io", "clusterroles"), authorizer.DecisionAllow},
		{"masters any URL", url(master, "/metrics"), authorizer.DecisionAllow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := authz.Authorize(context.Background(), tc.attrs)
			if err != nil || got != tc.want {
				t.Errorf("Authorize() = %v, %q, %v; want %v", got, reason, err, tc.want)
			}
		})
	}
}
