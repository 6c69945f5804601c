package validation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errorStrings renders errs the way the API server reports them.
func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func validRole() *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:certificates.k8s.io:kubelet-serving-approver", ResourceVersion: "1"},
		Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"approve"}, APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"signers"}, ResourceNames: []string{"kubernetes.io/kubelet-serving"}},
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}},
		},
	}
}

func TestValidateClusterRole(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*rbacv1.ClusterRole)
		want   []string
	}{
		{name: "valid", modify: func(*rbacv1.ClusterRole) {}},
		{name: "no rules", modify: func(r *rbacv1.ClusterRole) { r.Rules = nil }},
		{
			name:   "missing name",
			modify: func(r *rbacv1.ClusterRole) { r.Name = "" },
			want:   []string{"metadata.name: Required value: name or generateName is required"},
		},
		{
			name:   "name with slash",
			modify: func(r *rbacv1.ClusterRole) { r.Name = "a/b" },
			want:   []string{`metadata.name: Invalid value: "a/b": may not contain '/'`},
		},
		{
			name:   "name ..",
			modify: func(r *rbacv1.ClusterRole) { r.Name = ".." },
			want:   []string{`metadata.name: Invalid value: "..": may not be '..'`},
		},
		{
			name:   "namespace set",
			modify: func(r *rbacv1.ClusterRole) { r.Namespace = "default" },
			want:   []string{`metadata.namespace: Forbidden: not allowed on this type`},
		},
		{
			name:   "no verbs",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[0].Verbs = nil },
			want:   []string{"rules[0].verbs: Required value: verbs must contain at least one value"},
		},
		{
			name:   "no apiGroups",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[0].APIGroups = nil },
			want:   []string{"rules[0].apiGroups: Required value: resource rules must supply at least one api group"},
		},
		{
			name:   "no resources",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[0].Resources = nil },
			want:   []string{"rules[0].resources: Required value: resource rules must supply at least one resource"},
		},
		{
			name:   "the core group is a group",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[0].APIGroups = []string{""} },
		},
		{
			name:   "resources and URLs in one rule",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[1].Resources = []string{"signers"} },
			want:   []string{`rules[1].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs`},
		},
		{
			name:   "URLs with resourceNames",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[1].ResourceNames = []string{"x"} },
			want:   []string{`rules[1].nonResourceURLs: Invalid value: ["/healthz"]: rules cannot apply to both regular resources and non-resource URLs`},
		},
		{
			name: "empty aggregationRule",
			modify: func(r *rbacv1.ClusterRole) {
				r.AggregationRule = &rbacv1.AggregationRule{}
			},
			want: []string{"aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"},
		},
		{
			name: "valid aggregationRule",
			modify: func(r *rbacv1.ClusterRole) {
				r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"kcsr.dev/aggregate-to-approvers": "true"}}}}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			role := validRole()
			tc.modify(role)
			if diff := cmp.Diff(tc.want, errorStrings(ValidateClusterRole(role))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateClusterRoleUpdate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*rbacv1.ClusterRole)
		want   []string
	}{
		{name: "rules may change", modify: func(r *rbacv1.ClusterRole) { r.Rules[0].Verbs = []string{"approve", "sign"} }},
		{
			name:   "new rules are validated",
			modify: func(r *rbacv1.ClusterRole) { r.Rules[0].Verbs = nil },
			want:   []string{"rules[0].verbs: Required value: verbs must contain at least one value"},
		},
		{
			name:   "name is immutable",
			modify: func(r *rbacv1.ClusterRole) { r.Name = "other" },
			want:   []string{`metadata.name: Invalid value: "other": field is immutable`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validRole()
			role := old.DeepCopy()
			tc.modify(role)
			if diff := cmp.Diff(tc.want, errorStrings(ValidateClusterRoleUpdate(role, old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func validBinding() *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "kubeadm:node-autoapprove-bootstrap", ResourceVersion: "1"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:bootstrappers:kubeadm:default-node-token"},
			{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "alice@example.com"},
			{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "certificate-controller"},
		},
	}
}

func TestValidateClusterRoleBinding(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*rbacv1.ClusterRoleBinding)
		want   []string
	}{
		{name: "valid", modify: func(*rbacv1.ClusterRoleBinding) {}},
		{name: "no subjects", modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects = nil }},
		{
			name:   "name with percent",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Name = "a%b" },
			want:   []string{`metadata.name: Invalid value: "a%b": may not contain '%'`},
		},
		{
			name:   "roleRef kind Role",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Kind = "Role" },
			want:   []string{`roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`},
		},
		{
			name:   "roleRef apiGroup",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.APIGroup = "" },
			want:   []string{`roleRef.apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`},
		},
		{
			name:   "roleRef name missing",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "" },
			want:   []string{"roleRef.name: Required value"},
		},
		{
			name:   "roleRef name with slash",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "a/b" },
			want:   []string{`roleRef.name: Invalid value: "a/b": may not contain '/'`},
		},
		{
			name:   "subject without name",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[1].Name = "" },
			want:   []string{"subjects[1].name: Required value"},
		},
		{
			name:   "user subject apiGroup",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[1].APIGroup = "" },
			want:   []string{`subjects[1].apiGroup: Unsupported value: "": supported values: "rbac.authorization.k8s.io"`},
		},
		{
			name:   "group subject apiGroup",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[0].APIGroup = "example.com" },
			want:   []string{`subjects[0].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"`},
		},
		{
			name:   "service account without namespace",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[2].Namespace = "" },
			want:   []string{"subjects[2].namespace: Required value"},
		},
		{
			name:   "service account with apiGroup",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[2].APIGroup = rbacv1.GroupName },
			want:   []string{`subjects[2].apiGroup: Unsupported value: "rbac.authorization.k8s.io": supported values: ""`},
		},
		{
			name:   "service account name",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[2].Name = "Cert_Controller" },
			want:   []string{`subjects[2].name: Invalid value: "Cert_Controller": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "unknown subject kind",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[1].Kind = "Robot" },
			want:   []string{`subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := validBinding()
			tc.modify(b)
			if diff := cmp.Diff(tc.want, errorStrings(ValidateClusterRoleBinding(b))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateClusterRoleBindingUpdate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*rbacv1.ClusterRoleBinding)
		want   []string
	}{
		{name: "subjects may change", modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects = b.Subjects[:1] }},
		{
			name:   "roleRef is immutable",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.RoleRef.Name = "cluster-admin" },
			want:   []string{`roleRef: Invalid value: {"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}: cannot change roleRef`},
		},
		{
			name:   "new subjects are validated",
			modify: func(b *rbacv1.ClusterRoleBinding) { b.Subjects[0].Name = "" },
			want:   []string{"subjects[0].name: Required value"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := validBinding()
			b := old.DeepCopy()
			tc.modify(b)
			if diff := cmp.Diff(tc.want, errorStrings(ValidateClusterRoleBindingUpdate(b, old))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
