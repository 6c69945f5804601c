package certificates

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func TestIsAuthorizedForSignerName(t *testing.T) {
	alice := &user.DefaultInfo{Name: "alice"}
	tests := []struct {
		name       string
		allowed    string // the one signers name the authorizer allows
		authzErr   error
		signerName string
		want       bool
		wantAsked  []string
	}{
		{name: "exact name", allowed: "example.com/a", signerName: "example.com/a", want: true, wantAsked: []string{"example.com/a"}},
		{name: "domain wildcard", allowed: "example.com/*", signerName: "example.com/a", want: true, wantAsked: []string{"example.com/a", "example.com/*"}},
		{name: "other signer", allowed: "example.com/b", signerName: "example.com/a", want: false, wantAsked: []string{"example.com/a", "example.com/*"}},
		{name: "other domain", allowed: "example.org/*", signerName: "example.com/a", want: false, wantAsked: []string{"example.com/a", "example.com/*"}},
		{name: "path with slash uses first segment", allowed: "example.com/*", signerName: "example.com/a/b", want: true, wantAsked: []string{"example.com/a/b", "example.com/*"}},
		{name: "authorizer error is a denial", allowed: "example.com/a", authzErr: errors.New("boom"), signerName: "example.com/a", want: false, wantAsked: []string{"example.com/a", "example.com/*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			authz := authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
				asked = append(asked, a.GetName())
				want := authorizer.AttributesRecord{
					User: alice, Verb: "sign", Name: a.GetName(), APIGroup: "certificates.k8s.io",
					APIVersion: "*", Resource: "signers", ResourceRequest: true,
				}
				if diff := cmp.Diff(want, a); diff != "" {
					t.Errorf("attributes (-want +got):\n%s", diff)
				}
				if tc.authzErr != nil {
					return authorizer.DecisionAllow, "", tc.authzErr
				}
				if a.GetName() == tc.allowed {
					return authorizer.DecisionAllow, "", nil
				}
				return authorizer.DecisionNoOpinion, "", nil
			})
			if got := IsAuthorizedForSignerName(context.Background(), authz, alice, "sign", tc.signerName); got != tc.want {
				t.Errorf("IsAuthorizedForSignerName() = %v, want %v", got, tc.want)
			}
			if diff := cmp.Diff(tc.wantAsked, asked); diff != "" {
				t.Errorf("names asked (-want +got):\n%s", diff)
			}
		})
	}
}
