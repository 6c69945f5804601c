package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApprovalPolicy approves or denies CSRs automatically, and says why. Rules are CEL
// expressions over the decoded request and its requester; a policy whose expressions do not
// compile is refused at create, with the CEL error and its position. Deny wins over
// approve; guard rails (protected groups, weak keys) apply whatever the policies say.
type ApprovalPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ApprovalPolicySpec `json:"spec"`
}

// ApprovalPolicySpec is what a policy decides, and for which requests.
type ApprovalPolicySpec struct {
	// SignerNames the policy covers: exact names or "domain/*".
	SignerNames []string `json:"signerNames"`
	// Match is a CEL boolean expression; the policy applies only to requests for which it
	// is true. Empty: it applies to every request of its signers.
	// +optional
	Match string `json:"match,omitempty"`
	// Rules are CEL boolean expressions, each named; Message is shown when one is false.
	Rules []PolicyRule `json:"rules"`
	// Action is the verdict when every rule holds: Approve or Deny.
	Action PolicyAction `json:"action"`
	// OnFailure is the verdict when a rule is false: NoOpinion (a human decides; the
	// default) or Deny.
	// +optional
	OnFailure PolicyAction `json:"onFailure,omitempty"`
}

// PolicyRule is one named CEL expression.
type PolicyRule struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
	// +optional
	Message string `json:"message,omitempty"`
}

// PolicyAction is a verdict.
type PolicyAction string

// The verdicts.
const (
	PolicyApprove   PolicyAction = "Approve"
	PolicyDeny      PolicyAction = "Deny"
	PolicyNoOpinion PolicyAction = "NoOpinion"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApprovalPolicyList is a list of ApprovalPolicies.
type ApprovalPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []ApprovalPolicy `json:"items"`
}
