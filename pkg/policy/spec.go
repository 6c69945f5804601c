package policy

import kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"

// A policy is the spec of a kcsr.dev/v1alpha1 ApprovalPolicy: the package compiles and
// evaluates the API type itself, under these shorter names.
type (
	// PolicySpec is what an approval policy decides, and for which requests.
	PolicySpec = kcsrv1alpha1.ApprovalPolicySpec
	// Rule is one named CEL boolean expression over `request`.
	Rule = kcsrv1alpha1.PolicyRule
	// Action is a verdict: what a policy does with a request.
	Action = kcsrv1alpha1.PolicyAction
)

// The actions.
const (
	// Approve approves the request.
	Approve = kcsrv1alpha1.PolicyApprove
	// Deny denies the request.
	Deny = kcsrv1alpha1.PolicyDeny
	// NoOpinion leaves the request pending for a person to approve or deny.
	NoOpinion = kcsrv1alpha1.PolicyNoOpinion
)
