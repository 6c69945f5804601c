package policy

import "slices"

// PolicySpec is what an approval policy decides, and for which requests. It is the spec of
// the kcsr.dev/v1alpha1 ApprovalPolicy object, which embeds it.
type PolicySpec struct {
	// SignerNames the policy covers: exact names or "domain/*".
	SignerNames []string `json:"signerNames"`
	// Match is a CEL boolean expression; the policy applies only to requests for which it
	// is true. Empty: it applies to every request of its signers.
	Match string `json:"match,omitempty"`
	// Rules are CEL boolean expressions, each with a name and an optional message shown
	// when it is false. At least one is required (use "true" to decide every request).
	Rules []Rule `json:"rules"`
	// Action is the verdict when every rule holds: Approve or Deny.
	Action Action `json:"action"`
	// OnFailure is the verdict when a rule is false: NoOpinion (a person decides; the
	// default) or Deny.
	OnFailure Action `json:"onFailure,omitempty"`
}

// Rule is one named CEL boolean expression over `request`.
type Rule struct {
	// Name identifies the rule in verdicts; unique within its policy.
	Name string `json:"name"`
	// Expression is a CEL expression that evaluates to a bool.
	Expression string `json:"expression"`
	// Message says, when the expression is false, what the requester should have asked
	// for. The values of the request fields the expression reads are added to it.
	Message string `json:"message,omitempty"`
}

// Action is a verdict: what a policy does with a request.
type Action string

// The actions.
const (
	// Approve approves the request.
	Approve Action = "Approve"
	// Deny denies the request.
	Deny Action = "Deny"
	// NoOpinion leaves the request pending for a person to approve or deny.
	NoOpinion Action = "NoOpinion"
)

// DeepCopyInto copies s into out, so that API types can embed PolicySpec.
func (s *PolicySpec) DeepCopyInto(out *PolicySpec) {
	*out = *s
	out.SignerNames = slices.Clone(s.SignerNames)
	out.Rules = slices.Clone(s.Rules)
}

// DeepCopy returns a copy of s.
func (s *PolicySpec) DeepCopy() *PolicySpec {
	if s == nil {
		return nil
	}
	out := new(PolicySpec)
	s.DeepCopyInto(out)
	return out
}
