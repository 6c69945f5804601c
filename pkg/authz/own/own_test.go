package own

import (
	"context"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// direct grants alice the own-CSR verbs through the subresource, and admin every verb on
// CSRs outright.
var direct = authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	switch {
	case a.GetUser().GetName() == "admin":
		return authorizer.DecisionAllow, "", nil
	case a.GetUser().GetName() == "alice" && a.GetSubresource() == Subresource && a.GetVerb() != "delete":
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
})

func TestAuthorize(t *testing.T) {
	a := Authorizer{Direct: direct}
	csrs := func(u, verb, subresource string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: &user.DefaultInfo{Name: u}, Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, ResourceRequest: true}
	}
	for _, tc := range []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{"alice lists CSRs", csrs("alice", "list", ""), authorizer.DecisionAllow},
		{"alice creates a CSR", csrs("alice", "create", ""), authorizer.DecisionAllow},
		{"alice deletes a CSR", csrs("alice", "delete", ""), authorizer.DecisionNoOpinion},
		{"alice approves", csrs("alice", "update", "approval"), authorizer.DecisionNoOpinion},
		{"bob, without the role", csrs("bob", "list", ""), authorizer.DecisionNoOpinion},
		{"another resource", authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "alice"}, Verb: "list", APIGroup: "kcsr.dev", Resource: "issuedcertificates", ResourceRequest: true}, authorizer.DecisionNoOpinion},
	} {
		if got, _, _ := a.Authorize(context.Background(), tc.attrs); got != tc.want {
			t.Errorf("%s: %v; want %v", tc.name, got, tc.want)
		}
	}
	for u, want := range map[string]bool{"alice": true, "admin": false, "bob": false} {
		if got := a.Scoped(context.Background(), &user.DefaultInfo{Name: u}, "list"); got != want {
			t.Errorf("Scoped(%s) = %v; want %v", u, got, want)
		}
	}
}
