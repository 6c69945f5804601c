package revocation

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Reason is an RFC 5280 CRLReason code (§5.3.1), used in CRL entries and OCSP responses.
type Reason int

// The RFC 5280 CRLReason codes. Code 7 is unused.
const (
	Unspecified          Reason = 0
	KeyCompromise        Reason = 1
	CACompromise         Reason = 2
	AffiliationChanged   Reason = 3
	Superseded           Reason = 4
	CessationOfOperation Reason = 5
	CertificateHold      Reason = 6
	RemoveFromCRL        Reason = 8
	PrivilegeWithdrawn   Reason = 9
	AACompromise         Reason = 10
)

// reasonNames are the ASN.1 names of RFC 5280, which openssl prints too.
var reasonNames = map[Reason]string{
	Unspecified:          "unspecified",
	KeyCompromise:        "keyCompromise",
	CACompromise:         "cACompromise",
	AffiliationChanged:   "affiliationChanged",
	Superseded:           "superseded",
	CessationOfOperation: "cessationOfOperation",
	CertificateHold:      "certificateHold",
	RemoveFromCRL:        "removeFromCRL",
	PrivilegeWithdrawn:   "privilegeWithdrawn",
	AACompromise:         "aACompromise",
}

// revocationReasons are the reasons a certificate may be revoked for, in code order:
// every code but removeFromCRL, which only appears in delta CRLs.
var revocationReasons = []Reason{
	Unspecified, KeyCompromise, CACompromise, AffiliationChanged, Superseded,
	CessationOfOperation, CertificateHold, PrivilegeWithdrawn, AACompromise,
}

// RevocationReasons returns the reasons a certificate may be revoked for, in code order:
// every CRLReason but removeFromCRL. The slice is the caller's.
func RevocationReasons() []Reason { return slices.Clone(revocationReasons) }

// ErrUnknownReason is wrapped by the errors of ParseReason and Entry.Validate for a reason
// that is not a revocation reason.
var ErrUnknownReason = errors.New("unknown revocation reason")

// String returns the RFC 5280 name of r ("keyCompromise"), or "Reason(7)" for a value
// that is not a CRLReason code.
func (r Reason) String() string {
	if name, ok := reasonNames[r]; ok {
		return name
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// valid reports whether r is a reason a certificate may be revoked for.
func (r Reason) valid() bool {
	_, ok := reasonNames[r]
	return ok && r != RemoveFromCRL
}

// ParseReason returns the reason named s: an RFC 5280 name ("keyCompromise",
// "superseded", "cessationOfOperation", …), matched without regard to case so that
// "caCompromise" and "CACompromise" are accepted. removeFromCRL is refused: it is not a
// reason to revoke, and a certificateHold is released by deleting the entry.
func ParseReason(s string) (Reason, error) {
	if strings.EqualFold(s, RemoveFromCRL.String()) {
		return 0, fmt.Errorf("%w %q: removeFromCRL only appears in delta CRLs; to release a certificateHold, unrevoke the certificate", ErrUnknownReason, s)
	}
	for _, r := range revocationReasons {
		if strings.EqualFold(s, r.String()) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w %q; use one of %s", ErrUnknownReason, s, reasonList())
}

// reasonList names the revocation reasons, comma-separated.
func reasonList() string {
	names := make([]string, len(revocationReasons))
	for i, r := range revocationReasons {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}
