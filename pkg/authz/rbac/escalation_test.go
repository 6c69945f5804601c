package rbac

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"kcsr.dev/kcsr/pkg/testkit"
)

const (
	csrGroup    = "certificates.k8s.io"
	aliceGroups = `["system:authenticated"]`
)

var alice = &user.DefaultInfo{Name: "alice", Groups: []string{"system:authenticated"}}

// escalationFixture: alice may read CSRs and approve for example.com/a; bob may escalate
// and bind role "approve-b" only.
func escalationFixture(t *testing.T) (*Authorizer, *EscalationChecker) {
	t.Helper()
	roles := []*rbacv1.ClusterRole{
		clusterRole("read-csrs", rule(l("get", "list", "watch"), l(csrGroup), l("certificatesigningrequests"))),
		clusterRole("approve-a", rbacv1.PolicyRule{Verbs: l("approve"), APIGroups: l(csrGroup), Resources: l("signers"), ResourceNames: l("example.com/a")}),
		clusterRole("approve-b", rbacv1.PolicyRule{Verbs: l("approve"), APIGroups: l(csrGroup), Resources: l("signers"), ResourceNames: l("example.com/b")}),
		clusterRole("escalator",
			rbacv1.PolicyRule{Verbs: l("escalate"), APIGroups: l(rbacv1.GroupName), Resources: l("clusterroles")},
			rbacv1.PolicyRule{Verbs: l("bind"), APIGroups: l(rbacv1.GroupName), Resources: l("clusterroles"), ResourceNames: l("approve-b")},
		),
	}
	bindings := []*rbacv1.ClusterRoleBinding{
		binding("alice-read", "read-csrs", userSubject("alice")),
		binding("alice-approve", "approve-a", userSubject("alice")),
		binding("bob", "escalator", userSubject("bob")),
	}
	a := newTestAuthorizer(t, roles, bindings)
	return a, NewEscalationChecker(a, a, a.roles)
}

func TestConfirmNoEscalation(t *testing.T) {
	a, _ := escalationFixture(t)
	tests := []struct {
		name    string
		rules   []rbacv1.PolicyRule
		wantErr string
	}{
		{
			name:  "subset of held rules",
			rules: []rbacv1.PolicyRule{rule(l("get", "list"), l(csrGroup), l("certificatesigningrequests"))},
		},
		{
			name:  "held resource name",
			rules: []rbacv1.PolicyRule{{Verbs: l("approve"), APIGroups: l(csrGroup), Resources: l("signers"), ResourceNames: l("example.com/a")}},
		},
		{
			name:  "missing verbs are merged per resource and listed sorted",
			rules: []rbacv1.PolicyRule{rule(l("get", "delete", "update"), l(csrGroup), l("certificatesigningrequests", "certificatesigningrequests/approval"))},
			wantErr: `user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests"], Verbs:["delete" "update"]}
{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests/approval"], Verbs:["get" "delete" "update"]}`,
		},
		{
			name:  "all names of a resource are not covered by one name",
			rules: []rbacv1.PolicyRule{{Verbs: l("approve"), APIGroups: l(csrGroup), Resources: l("signers")}},
			wantErr: `user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["signers"], Verbs:["approve"]}`,
		},
		{
			name:  "non-resource URLs",
			rules: []rbacv1.PolicyRule{{Verbs: l("get"), NonResourceURLs: l("/healthz")}},
			wantErr: `user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{NonResourceURLs:["/healthz"], Verbs:["get"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ConfirmNoEscalation(context.Background(), a, alice, tc.rules)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

type failingResolver struct{ rules []rbacv1.PolicyRule }

func (f failingResolver) PolicyRulesFor(context.Context, user.Info) ([]rbacv1.PolicyRule, error) {
	return f.rules, errors.New(`clusterrole.rbac.authorization.k8s.io "gone" not found`)
}

func TestConfirmNoEscalationResolutionErrors(t *testing.T) {
	held := rule(l("get"), l(csrGroup), l("certificatesigningrequests"))
	r := failingResolver{rules: []rbacv1.PolicyRule{held}}

	if err := ConfirmNoEscalation(context.Background(), r, alice, []rbacv1.PolicyRule{held}); err != nil {
		t.Errorf("rules that were resolved must still count, got %v", err)
	}
	err := ConfirmNoEscalation(context.Background(), r, alice, []rbacv1.PolicyRule{rule(l("list"), l(csrGroup), l("certificatesigningrequests"))})
	want := `user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests"], Verbs:["list"]}; resolution errors: [clusterrole.rbac.authorization.k8s.io "gone" not found]`
	if diff := cmp.Diff(want, testkit.ErrString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func requestContext(u user.Info, verb, resource, name string) context.Context {
	ctx := genericapirequest.WithUser(context.Background(), u)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: verb, APIGroup: rbacv1.GroupName, APIVersion: "v1", Resource: resource, Name: name,
	})
}

// TestEscalationChecks: ClusterRole and ClusterRoleBinding writes, each checked by its own
// rule, with Kubernetes' error messages.
func TestEscalationChecks(t *testing.T) {
	_, checker := escalationFixture(t)
	bob := &user.DefaultInfo{Name: "bob"}
	master := &user.DefaultInfo{Name: "root", Groups: []string{user.SystemPrivilegedGroup}}
	readRole := clusterRole("r", rule(l("get"), l(csrGroup), l("certificatesigningrequests")))
	deleteRole := clusterRole("r", rule(l("delete"), l(csrGroup), l("certificatesigningrequests")))
	aggregated := clusterRole("r")
	aggregated.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"a": "b"}}}}
	withFinalizer := deleteRole.DeepCopy()
	withFinalizer.Finalizers = []string{"example.com/keep"}
	changedRules := clusterRole("r", rule(l("delete", "update"), l(csrGroup), l("certificatesigningrequests")))

	bindA := binding("x", "approve-a", userSubject("carol"))
	bindB := binding("x", "approve-b", userSubject("carol"))
	bindMissing := binding("x", "missing", userSubject("carol"))
	bindBLabelled := bindB.DeepCopy()
	bindBLabelled.Labels = map[string]string{"team": "pki"}
	bindBOwned := bindB.DeepCopy()
	bindBOwned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "o", UID: "u"}}

	// check runs the checker's rule for obj's kind.
	check := func(ctx context.Context, obj, old runtime.Object) error {
		if role, ok := obj.(*rbacv1.ClusterRole); ok {
			prev, _ := old.(*rbacv1.ClusterRole)
			return checker.CheckClusterRole(ctx, role, prev)
		}
		prev, _ := old.(*rbacv1.ClusterRoleBinding)
		return checker.CheckClusterRoleBinding(ctx, obj.(*rbacv1.ClusterRoleBinding), prev)
	}

	tests := []struct {
		name     string
		ctx      context.Context
		obj, old runtime.Object
		wantErr  string
	}{
		{name: "role: covered create", ctx: requestContext(alice, "create", "clusterroles", ""), obj: readRole},
		{
			name: "role: escalating create",
			ctx:  requestContext(alice, "create", "clusterroles", ""),
			obj:  deleteRole,
			wantErr: `clusterroles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests"], Verbs:["delete"]}`,
		},
		{name: "role: system:masters may escalate", ctx: requestContext(master, "create", "clusterroles", ""), obj: deleteRole},
		{name: "role: escalate verb allows create", ctx: requestContext(bob, "create", "clusterroles", ""), obj: deleteRole},
		{name: "role: escalate verb allows update", ctx: requestContext(bob, "update", "clusterroles", "r"), obj: deleteRole, old: readRole},
		{name: "role: only GC fields changed", ctx: requestContext(alice, "update", "clusterroles", "r"), obj: withFinalizer, old: deleteRole},
		{
			name: "role: rules changed on update",
			ctx:  requestContext(alice, "update", "clusterroles", "r"),
			obj:  changedRules, old: deleteRole,
			wantErr: `clusterroles.rbac.authorization.k8s.io "r" is forbidden: user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["certificatesigningrequests"], Verbs:["delete" "update"]}`,
		},
		{
			name:    "role: aggregationRule needs cluster-admin",
			ctx:     requestContext(alice, "create", "clusterroles", ""),
			obj:     aggregated,
			wantErr: `clusterroles.rbac.authorization.k8s.io "r" is forbidden: must have cluster-admin privileges to use the aggregationRule`,
		},
		{
			name:    "role: no user",
			ctx:     context.Background(),
			obj:     readRole,
			wantErr: `clusterroles.rbac.authorization.k8s.io "r" is forbidden: no user on context`,
		},
		{name: "binding: holds the role's permissions", ctx: requestContext(alice, "create", "clusterrolebindings", ""), obj: bindA},
		{
			name: "binding: does not hold the role's permissions",
			ctx:  requestContext(alice, "create", "clusterrolebindings", ""),
			obj:  bindB,
			wantErr: `clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["signers"], ResourceNames:["example.com/b"], Verbs:["approve"]}`,
		},
		{name: "binding: bind verb on the role", ctx: requestContext(bob, "create", "clusterrolebindings", ""), obj: bindB},
		{
			name: "binding: bind verb on another role",
			ctx:  requestContext(bob, "create", "clusterrolebindings", ""),
			obj:  bindA,
			wantErr: `clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: user "bob" (groups=[]) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["signers"], ResourceNames:["example.com/a"], Verbs:["approve"]}`,
		},
		{name: "binding: system:masters", ctx: requestContext(master, "create", "clusterrolebindings", ""), obj: bindB},
		{
			name:    "binding: missing role",
			ctx:     requestContext(alice, "create", "clusterrolebindings", ""),
			obj:     bindMissing,
			wantErr: `clusterrole.rbac.authorization.k8s.io "missing" not found`,
		},
		{name: "binding: only GC fields changed", ctx: requestContext(alice, "update", "clusterrolebindings", "x"), obj: bindBOwned, old: bindB},
		{
			name: "binding: labels changed is checked",
			ctx:  requestContext(alice, "update", "clusterrolebindings", "x"),
			obj:  bindBLabelled, old: bindB,
			wantErr: `clusterrolebindings.rbac.authorization.k8s.io "x" is forbidden: user "alice" (groups=` + aliceGroups + `) is attempting to grant RBAC permissions not currently held:
{APIGroups:["certificates.k8s.io"], Resources:["signers"], ResourceNames:["example.com/b"], Verbs:["approve"]}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := check(tc.ctx, tc.obj, tc.old)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscalateAndBindAttributes(t *testing.T) {
	var got []authorizer.Attributes
	authz := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		got = append(got, a)
		return authorizer.DecisionNoOpinion, "", nil
	})
	RoleEscalationAuthorized(context.Background(), authz, alice, "r")
	BindingAuthorized(context.Background(), authz, alice, rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "approve-a"})
	want := []authorizer.Attributes{
		authorizer.AttributesRecord{User: alice, Verb: "escalate", APIGroup: rbacv1.GroupName, APIVersion: "*", Resource: "clusterroles", Name: "r", ResourceRequest: true},
		authorizer.AttributesRecord{User: alice, Verb: "bind", APIGroup: rbacv1.GroupName, Resource: "clusterroles", Name: "approve-a", ResourceRequest: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}
