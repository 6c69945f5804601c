package rbac

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbacv1listers "k8s.io/client-go/listers/rbac/v1"
	"k8s.io/client-go/tools/cache"

	"kcsr.dev/kcsr/pkg/apis/rbac/evaluation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// newTestAuthorizer builds an Authorizer over real client-go listers holding objs.
func newTestAuthorizer(t *testing.T, roles []*rbacv1.ClusterRole, bindings []*rbacv1.ClusterRoleBinding) *Authorizer {
	t.Helper()
	roleIndexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, r := range roles {
		if err := roleIndexer.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	bindingIndexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, b := range bindings {
		if err := bindingIndexer.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	return New(NewListerGetters(rbacv1listers.NewClusterRoleLister(roleIndexer), rbacv1listers.NewClusterRoleBindingLister(bindingIndexer)))
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

func binding(name, role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func groupSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func saSubject(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}

func rule(verbs, groups, resources []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func l(s ...string) []string { return s }

func resourceAttrs(u user.Info, verb, group, resource, subresource, name string) authorizer.AttributesRecord {
	return authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: group, APIVersion: "v1",
		Resource: resource, Subresource: subresource, Name: name, ResourceRequest: true,
	}
}

func TestAuthorize(t *testing.T) {
	readCSRs := clusterRole("read-csrs", rule(l("get", "list"), l("certificates.k8s.io"), l("certificatesigningrequests")))
	roles := []*rbacv1.ClusterRole{readCSRs}
	csrGet := func(u user.Info) authorizer.AttributesRecord {
		return resourceAttrs(u, "get", "certificates.k8s.io", "certificatesigningrequests", "", "a")
	}

	tests := []struct {
		name         string
		bindings     []*rbacv1.ClusterRoleBinding
		user         user.Info
		wantDecision authorizer.Decision
		wantReason   string
	}{
		{
			name:         "user subject",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", userSubject("alice"))},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionAllow,
			wantReason:   `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "read-csrs" to User "alice"`,
		},
		{
			name:         "group subject",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", userSubject("bob"), groupSubject("readers"))},
			user:         &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated", "readers"}},
			wantDecision: authorizer.DecisionAllow,
			wantReason:   `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "read-csrs" to Group "readers"`,
		},
		{
			name:         "service account subject",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", saSubject("kube-system", "approver"))},
			user:         &user.DefaultInfo{Name: "system:serviceaccount:kube-system:approver"},
			wantDecision: authorizer.DecisionAllow,
			wantReason:   `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "read-csrs" to ServiceAccount "approver/kube-system"`,
		},
		{
			name:         "service account in another namespace",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", saSubject("kube-system", "approver"))},
			user:         &user.DefaultInfo{Name: "system:serviceaccount:default:approver"},
			wantDecision: authorizer.DecisionNoOpinion,
		},
		{
			name:         "service account without namespace matches nobody",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", saSubject("", "approver"))},
			user:         &user.DefaultInfo{Name: "system:serviceaccount::approver"},
			wantDecision: authorizer.DecisionNoOpinion,
		},
		{
			name:         "user name is not a group",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", groupSubject("alice"))},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionNoOpinion,
		},
		{
			name:         "not bound",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "read-csrs", userSubject("bob"))},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionNoOpinion,
		},
		{
			name:         "missing role is reported in the reason",
			bindings:     []*rbacv1.ClusterRoleBinding{binding("b", "missing", userSubject("alice"))},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionNoOpinion,
			wantReason:   `RBAC: clusterrole.rbac.authorization.k8s.io "missing" not found`,
		},
		{
			name: "missing role does not hide another binding",
			bindings: []*rbacv1.ClusterRoleBinding{
				binding("a", "missing", userSubject("alice")),
				binding("b", "read-csrs", userSubject("alice")),
			},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionAllow,
			wantReason:   `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "read-csrs" to User "alice"`,
		},
		{
			name: "unsupported roleRef kind",
			bindings: []*rbacv1.ClusterRoleBinding{{
				ObjectMeta: metav1.ObjectMeta{Name: "b"},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-csrs"},
				Subjects:   []rbacv1.Subject{userSubject("alice")},
			}},
			user:         &user.DefaultInfo{Name: "alice"},
			wantDecision: authorizer.DecisionNoOpinion,
			wantReason:   `RBAC: unsupported role reference kind: "Role"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newTestAuthorizer(t, roles, tc.bindings)
			decision, reason, err := a.Authorize(context.Background(), csrGet(tc.user))
			if err != nil {
				t.Fatalf("Authorize() error = %v", err)
			}
			if decision != tc.wantDecision {
				t.Errorf("decision = %v, want %v", decision, tc.wantDecision)
			}
			if diff := cmp.Diff(tc.wantReason, reason); diff != "" {
				t.Errorf("reason (-want +got):\n%s", diff)
			}
			// The conditions-aware path gives the same decision.
			if got := a.ConditionsAwareAuthorize(context.Background(), csrGet(tc.user)); got.IsAllow() != (tc.wantDecision == authorizer.DecisionAllow) {
				t.Errorf("ConditionsAwareAuthorize() allowed = %v", got.IsAllow())
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	roles := []*rbacv1.ClusterRole{
		clusterRole("basic",
			rule(l("create"), l("authorization.k8s.io"), l("selfsubjectaccessreviews")),
			rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/healthz")},
		),
		clusterRole("signer-approver",
			rbacv1.PolicyRule{Verbs: l("approve"), APIGroups: l("certificates.k8s.io"), Resources: l("signers"), ResourceNames: l("example.com/a")},
		),
	}
	bindings := []*rbacv1.ClusterRoleBinding{
		binding("basic", "basic", groupSubject("system:authenticated")),
		binding("approver", "signer-approver", userSubject("alice")),
		binding("broken", "missing", userSubject("alice")),
	}
	a := newTestAuthorizer(t, roles, bindings)
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}

	resourceRules, nonResourceRules, incomplete, err := a.RulesFor(context.Background(), alice, "")
	if diff := cmp.Diff(`clusterrole.rbac.authorization.k8s.io "missing" not found`, testkit.ErrString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if incomplete {
		t.Errorf("incomplete = true, want false")
	}
	var gotResources []string
	for _, r := range resourceRules {
		gotResources = append(gotResources, compactString(rbacv1.PolicyRule{
			Verbs: r.GetVerbs(), APIGroups: r.GetAPIGroups(), Resources: r.GetResources(), ResourceNames: r.GetResourceNames(),
		}))
	}
	wantResources := []string{
		`{APIGroups:["authorization.k8s.io"], Resources:["selfsubjectaccessreviews"], Verbs:["create"]}`,
		`{APIGroups:["certificates.k8s.io"], Resources:["signers"], ResourceNames:["example.com/a"], Verbs:["approve"]}`,
	}
	if diff := cmp.Diff(wantResources, gotResources, sortStrings); diff != "" {
		t.Errorf("resource rules (-want +got):\n%s", diff)
	}
	if len(nonResourceRules) != 1 || cmp.Diff(l("/healthz"), nonResourceRules[0].GetNonResourceURLs()) != "" {
		t.Errorf("non-resource rules = %#v, want one for /healthz", nonResourceRules)
	}
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestRuleAllows: the rule semantics the authorizer relies on.
func TestRuleAllows(t *testing.T) {
	alice := &user.DefaultInfo{Name: "alice"}
	csr := func(verb, sub, name string) authorizer.AttributesRecord {
		return resourceAttrs(alice, verb, "certificates.k8s.io", "certificatesigningrequests", sub, name)
	}
	url := func(verb, path string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: alice, Verb: verb, Path: path}
	}
	signerRule := rbacv1.PolicyRule{Verbs: l("approve"), APIGroups: l("certificates.k8s.io"), Resources: l("signers"), ResourceNames: l("example.com/a")}

	tests := []struct {
		name  string
		rule  rbacv1.PolicyRule
		attrs authorizer.AttributesRecord
		want  bool
	}{
		{"exact verb, group, resource", rule(l("get"), l("certificates.k8s.io"), l("certificatesigningrequests")), csr("get", "", "a"), true},
		{"other verb", rule(l("get"), l("certificates.k8s.io"), l("certificatesigningrequests")), csr("delete", "", "a"), false},
		{"verb *", rule(l("*"), l("certificates.k8s.io"), l("certificatesigningrequests")), csr("delete", "", "a"), true},
		{"other group", rule(l("get"), l(""), l("certificatesigningrequests")), csr("get", "", "a"), false},
		{"group *", rule(l("get"), l("*"), l("certificatesigningrequests")), csr("get", "", "a"), true},
		{"resource * covers subresources", rule(l("update"), l("*"), l("*")), csr("update", "approval", "a"), true},
		{"resource alone does not cover its subresource", rule(l("update"), l("certificates.k8s.io"), l("certificatesigningrequests")), csr("update", "approval", "a"), false},
		{"exact subresource", rule(l("update"), l("certificates.k8s.io"), l("certificatesigningrequests/approval")), csr("update", "approval", "a"), true},
		{"other subresource", rule(l("update"), l("certificates.k8s.io"), l("certificatesigningrequests/status")), csr("update", "approval", "a"), false},
		{"*/subresource", rule(l("update"), l("certificates.k8s.io"), l("*/approval")), csr("update", "approval", "a"), true},
		{"*/subresource does not cover main resource", rule(l("update"), l("certificates.k8s.io"), l("*/approval")), csr("update", "", "a"), false},
		{"resource/* is not a wildcard", rule(l("update"), l("certificates.k8s.io"), l("certificatesigningrequests/*")), csr("update", "approval", "a"), false},
		{"resourceNames match", signerRule, resourceAttrs(alice, "approve", "certificates.k8s.io", "signers", "", "example.com/a"), true},
		{"resourceNames other name", signerRule, resourceAttrs(alice, "approve", "certificates.k8s.io", "signers", "", "example.com/b"), false},
		{"resourceNames never match a request without a name", signerRule, resourceAttrs(alice, "approve", "certificates.k8s.io", "signers", "", ""), false},
		{"resource rule does not match a URL", rule(l("get"), l("*"), l("*")), url("get", "/healthz"), false},
		{"URL exact", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/healthz")}, url("get", "/healthz"), true},
		{"URL exact, other path", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/healthz")}, url("get", "/healthz/etcd"), false},
		{"URL *", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("*")}, url("get", "/metrics"), true},
		{"URL prefix", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/apis/*")}, url("get", "/apis/certificates.k8s.io/v1"), true},
		{"URL prefix, other path", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("/apis/*")}, url("get", "/api/v1"), false},
		{"URL other verb", rbacv1.PolicyRule{Verbs: l("get"), NonResourceURLs: l("*")}, url("post", "/metrics"), false},
		{"URL rule does not match a resource", rbacv1.PolicyRule{Verbs: l("*"), NonResourceURLs: l("*")}, csr("get", "", "a"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := evaluation.RuleAllows(tc.attrs, &tc.rule); got != tc.want {
				t.Errorf("RuleAllows() = %v, want %v", got, tc.want)
			}
		})
	}
}
