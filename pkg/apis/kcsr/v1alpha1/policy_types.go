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
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the policy decides, and for which requests.
	Spec ApprovalPolicySpec `json:"spec"`
}

// ApprovalPolicySpec is what a policy decides, and for which requests.
type ApprovalPolicySpec struct {
	// SignerNames the policy covers: exact names or "domain/*".
	SignerNames []string `json:"signerNames"`
	// Match is a CEL boolean expression; the policy applies only to requests for which it
	// is true. Empty: it applies to every request of its signers. It reads the one
	// variable, request, as the rules do (see rules).
	// +optional
	Match string `json:"match,omitempty"`
	// Rules are CEL boolean expressions, each named; the policy's action is taken when
	// every rule is true. Each reads one variable, request, the decoded CSR:
	// request.signerName; request.subject.commonName, .organizations,
	// .organizationalUnits; request.dnsNames, .ipAddresses, .uris, .emailAddresses (the
	// subject alternative names); request.key.algorithm ("RSA", "ECDSA", "Ed25519"),
	// .size (bits), .curve ("P-256"…); request.signatureAlgorithm; request.usages;
	// request.expirationSeconds (0 when unset); request.requester.username, .uid, .groups,
	// .extra (who created the CSR, as the server authenticated them). Lists are never
	// null. Kubernetes' CEL libraries are there (strings, lists, sets, regex, ip() and
	// cidr()). Example: request.subject.commonName == request.requester.username &&
	// request.expirationSeconds <= 86400.
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
	// Name names the rule in verdicts and events.
	Name string `json:"name"`
	// Expression is a CEL boolean expression over request (see spec.rules).
	Expression string `json:"expression"`
	// Message is shown when the expression is false: what the requester should change.
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
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the ApprovalPolicies.
	Items []ApprovalPolicy `json:"items"`
}
