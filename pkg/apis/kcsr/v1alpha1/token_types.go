package v1alpha1

import (
	"regexp"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The identities token holders authenticate as.
const (
	// BootstrapUserPrefix + the token id is a bootstrap token's user, in BootstrapGroup.
	BootstrapUserPrefix = "system:bootstrap:"
	BootstrapGroup      = "system:bootstrappers"
	// JoinUserPrefix + the token id is a join token's user, in JoinGroup.
	JoinUserPrefix = "system:join:"
	JoinGroup      = "system:kcsr:joiners"
)

// TokenRE is Kubernetes' bootstrap token format, "<id>.<secret>", used for join tokens too.
var TokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// JoinTokenSpentGracePeriod is how long a spent join token still authenticates after it
// was spent (status.usedBy.time), so that its holder can collect the certificate; never
// past the token's expiration.
const JoinTokenSpentGracePeriod = 15 * time.Minute

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BootstrapToken is a Kubernetes-format bootstrap token ("<id>.<secret>", id [a-z0-9]{6},
// secret [a-z0-9]{16}) for kubelet TLS bootstrapping. It is named after its id. Unlike a
// Kubernetes bootstrap Secret, it stores only the SHA-256 of the secret: the server never
// holds a usable token. It authenticates as system:bootstrap:<id> in group
// system:bootstrappers (plus ExtraGroups) until it expires.
type BootstrapToken struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the token allows.
	Spec BootstrapTokenSpec `json:"spec"`
}

// BootstrapTokenSpec describes a bootstrap token.
type BootstrapTokenSpec struct {
	// SecretSHA256 is the lower-case hex SHA-256 of the token's secret part.
	SecretSHA256 string `json:"secretSHA256"`
	// Expiration is when the token stops authenticating. Required.
	Expiration metav1.Time `json:"expiration"`
	// Usages: "authentication" lets the token authenticate; "signing" is accepted for
	// compatibility with Kubernetes' format.
	Usages []string `json:"usages"`
	// ExtraGroups are added to system:bootstrappers; each must match
	// system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9].
	// +optional
	ExtraGroups []string `json:"extraGroups,omitempty"`
	// +optional
	// Description says what the token is for, for people.
	// +optional
	Description string `json:"description,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// BootstrapTokenList is a list of BootstrapTokens.
type BootstrapTokenList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the BootstrapTokens.
	Items []BootstrapToken `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// JoinToken lets one person or service get one certificate without an administrator
// handling files: a CSR created with the token (it authenticates as system:join:<id>) whose
// subject is exactly Username and Groups, for SignerName, with no subject alternative name
// the token does not list, is approved automatically, once. The token is then spent: it
// authenticates for JoinTokenSpentGracePeriod more, to fetch the certificate, and creates no
// other CSR; a mismatching CSR is denied with the reason. A join identity reads only its own
// CSRs. Creating or changing a join token needs "approve" on its signer: minting one is
// approving its certificate in advance. Only the SHA-256 of the secret is stored.
type JoinToken struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object's metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is what the token allows.
	Spec JoinTokenSpec `json:"spec"`
	// Status records the token's use.
	// +optional
	Status JoinTokenStatus `json:"status,omitempty"`
}

// JoinTokenSpec is what the token allows.
type JoinTokenSpec struct {
	// SecretSHA256 is the lower-case hex SHA-256 of the token's secret part.
	SecretSHA256 string `json:"secretSHA256"`
	// Expiration is when the token stops working.
	Expiration metav1.Time `json:"expiration"`
	// Username is the subject CN the CSR must carry.
	Username string `json:"username"`
	// Groups are the subject O values the CSR must carry, exactly (order aside).
	// +optional
	Groups []string `json:"groups,omitempty"`
	// SignerName the CSR must ask for.
	SignerName string `json:"signerName"`
	// DNSNames are the DNS subject alternative names the CSR may carry: every one in the
	// request must be listed here (the request may carry fewer). Empty: none. The same
	// holds for ipAddresses, uris and emailAddresses.
	// +optional
	DNSNames []string `json:"dnsNames,omitempty"`
	// IPAddresses are the IP address subject alternative names the CSR may carry.
	// +optional
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// URIs are the URI subject alternative names the CSR may carry.
	// +optional
	URIs []string `json:"uris,omitempty"`
	// EmailAddresses are the e-mail subject alternative names the CSR may carry.
	// +optional
	EmailAddresses []string `json:"emailAddresses,omitempty"`
	// MaxExpirationSeconds caps the certificate lifetime the CSR may request; 0: the
	// signer's maximum.
	// +optional
	MaxExpirationSeconds int32 `json:"maxExpirationSeconds,omitempty"`
}

// JoinTokenStatus records the token's use.
type JoinTokenStatus struct {
	// UsedBy is the CSR the token approved.
	// +optional
	UsedBy *TokenUse `json:"usedBy,omitempty"`
}

// TokenUse names the CSR a token was spent on.
type TokenUse struct {
	// CSRName is the CSR the token was spent on.
	CSRName string `json:"csrName"`
	// CSRUID is that CSR's UID.
	CSRUID string `json:"csrUID"`
	// Time is when the token was spent (the CSR approved).
	Time metav1.Time `json:"time"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// JoinTokenList is a list of JoinTokens.
type JoinTokenList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the JoinTokens.
	Items []JoinToken `json:"items"`
}
