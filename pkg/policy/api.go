package policy

import kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"

// FromAPI converts the spec of a kcsr.dev/v1alpha1 ApprovalPolicy to the engine's.
func FromAPI(s kcsrv1alpha1.ApprovalPolicySpec) PolicySpec {
	out := PolicySpec{
		SignerNames: append([]string(nil), s.SignerNames...),
		Match:       s.Match,
		Action:      Action(s.Action),
		OnFailure:   Action(s.OnFailure),
	}
	for _, r := range s.Rules {
		out.Rules = append(out.Rules, Rule{Name: r.Name, Expression: r.Expression, Message: r.Message})
	}
	return out
}
