// Package own lets a user create and read their own CertificateSigningRequests and no one
// else's: the least privilege to renew one's own certificate. RBAC grants it as the verbs
// create, get, list and watch on the subresource certificatesigningrequests/own (the
// kcsr:self-renewal ClusterRole); this authorizer turns such a grant into the same verb on
// certificatesigningrequests, and the CSR registry and admission then hold the user to
// their own: reads return only the CSRs whose spec.username is theirs, and a CSR they
// create must name them (CN = their user name, every O one of their groups).
//
// It never widens what RBAC grants on its own: a user whose RBAC rules already allow the
// verb on certificatesigningrequests is not scoped.
package own

import (
	"context"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Subresource is the RBAC subresource that grants the own-CSR verbs.
const Subresource = "own"

const (
	group    = "certificates.k8s.io"
	resource = "certificatesigningrequests"
)

var verbs = map[string]bool{"create": true, "get": true, "list": true, "watch": true}

// Authorizer allows a verb on certificatesigningrequests to a user who holds it on
// certificatesigningrequests/own, as Direct (the authorizer without this one) says.
type Authorizer struct {
	Direct authorizer.Authorizer
}

// Authorize answers Allow for an own-CSR verb held through the subresource, NoOpinion
// otherwise.
func (a Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if !attrs.IsResourceRequest() || attrs.GetAPIGroup() != group || attrs.GetResource() != resource || attrs.GetSubresource() != "" || !verbs[attrs.GetVerb()] {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if a.holds(ctx, attrs.GetUser(), attrs.GetVerb(), attrs.GetName(), Subresource) {
		return authorizer.DecisionAllow, "the user's own CSRs only (" + resource + "/" + Subresource + ")", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// Scoped reports whether the user may take verb on CSRs only through
// certificatesigningrequests/own: whether the request must be held to their own CSRs.
func (a Authorizer) Scoped(ctx context.Context, u user.Info, verb string) bool {
	return !a.holds(ctx, u, verb, "", "") && a.holds(ctx, u, verb, "", Subresource)
}

func (a Authorizer) holds(ctx context.Context, u user.Info, verb, name, subresource string) bool {
	d, _, err := a.Direct.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: group, APIVersion: "v1", Resource: resource, Subresource: subresource, Name: name, ResourceRequest: true,
	})
	return err == nil && d == authorizer.DecisionAllow
}

// ConditionsAwareAuthorize implements authorizer.Authorizer: its decisions are never
// conditional.
func (a Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions implements authorizer.Authorizer: there are no conditions to
// evaluate, so it fails closed.
func (a Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}
