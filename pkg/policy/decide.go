package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apiserver/pkg/authentication/user"
	"kcsr.dev/kcsr/pkg/csr"
)

// GuardRails are the checks no policy can override. The zero value checks only what is
// always checked (system:masters, MD5 and unknown key algorithms); start from
// DefaultGuardRails.
type GuardRails struct {
	// ProtectedGroups are subject organizations for which a certificate of a login signer
	// (kube-apiserver-client and LoginSigners) is never approved automatically: a person
	// decides. system:masters is always protected, listed or not.
	ProtectedGroups []string `json:"protectedGroups,omitempty"`
	// MinRSABits is the shortest RSA key accepted; shorter keys are denied. 0: no minimum.
	MinRSABits int `json:"minRSABits,omitempty"`
	// AllowedCurves are the ECDSA curves accepted ("P-256", "P-384", "P-521"); keys on
	// other curves are denied. Empty: every curve.
	AllowedCurves []string `json:"allowedCurves,omitempty"`
	// RefuseSHA1 denies requests signed with SHA-1. Requests signed with MD5 or MD2 are
	// always denied.
	RefuseSHA1 bool `json:"refuseSHA1,omitempty"`
	// LoginSigners are the signers, besides kube-apiserver-client, whose certificates log
	// in to the server because it trusts their CA for client authentication: the
	// protected groups are protected for them too. The server sets it from its signer
	// configuration (signer.MarkLoginSigners); it is not a flag.
	LoginSigners []string `json:"loginSigners,omitempty"`
}

// The Rule of a guard rail's verdict: the setting that decided.
const (
	GuardRailProtectedGroups = "guardRails.protectedGroups"
	GuardRailMinRSABits      = "guardRails.minRSABits"
	GuardRailAllowedCurves   = "guardRails.allowedCurves"
	GuardRailRefuseSHA1      = "guardRails.refuseSHA1"
	// GuardRailInsecureSignature refuses MD5 and MD2 signatures; it cannot be turned off.
	GuardRailInsecureSignature = "guardRails.insecureSignature"
	// GuardRailKeyAlgorithm refuses keys other than RSA, ECDSA and Ed25519; it cannot be
	// turned off.
	GuardRailKeyAlgorithm = "guardRails.keyAlgorithm"
)

// DefaultGuardRails returns the guard rails a kcsr server applies unless configured
// otherwise: system:masters protected, RSA keys of at least 2048 bits, the curves P-256,
// P-384 and P-521, and no SHA-1.
func DefaultGuardRails() GuardRails {
	return GuardRails{
		ProtectedGroups: []string{user.SystemPrivilegedGroup},
		MinRSABits:      2048,
		AllowedCurves:   []string{"P-256", "P-384", "P-521"},
		RefuseSHA1:      true,
	}
}

// opensslCurveNames are the curves a guard rail may allow, with the name openssl gives
// them, for the advice in messages.
var opensslCurveNames = map[string]string{
	"P-224": "secp224r1",
	"P-256": "prime256v1",
	"P-384": "secp384r1",
	"P-521": "secp521r1",
}

// Validate checks the guard rails' settings.
func (g GuardRails) Validate() error {
	var errs []error
	if g.MinRSABits < 0 {
		errs = append(errs, fmt.Errorf("minRSABits: %d is negative; use 0 for no minimum, or 2048 or more", g.MinRSABits))
	}
	for i, c := range g.AllowedCurves {
		if _, ok := opensslCurveNames[c]; !ok {
			errs = append(errs, fmt.Errorf("allowedCurves[%d]: %q is not an ECDSA curve; use P-256, P-384 or P-521", i, c))
		}
	}
	for i, grp := range g.ProtectedGroups {
		if grp == "" {
			errs = append(errs, fmt.Errorf("protectedGroups[%d]: a group name is required", i))
		}
	}
	return errors.Join(errs...)
}

// refuse returns the Deny verdict of the guard rails that refuse r's key or signature.
// Every problem is named, so that one new request fixes them all.
func (g GuardRails) refuse(r *Request) (Verdict, bool) {
	var rules, problems []string
	add := func(rule, problem string) {
		rules = append(rules, rule)
		problems = append(problems, problem)
	}
	switch k := r.Key; k.Algorithm {
	case KeyAlgorithmRSA:
		if k.Size < int64(g.MinRSABits) {
			add(GuardRailMinRSABits, fmt.Sprintf(
				`RSA keys must be at least %d bits; this request has a %d-bit key: generate a new key with "openssl genrsa -out tls.key %d" or use ECDSA P-256`,
				g.MinRSABits, k.Size, max(g.MinRSABits, 2048)))
		}
	case KeyAlgorithmECDSA:
		if len(g.AllowedCurves) > 0 && !slices.Contains(g.AllowedCurves, k.Curve) {
			add(GuardRailAllowedCurves, fmt.Sprintf(
				`ECDSA keys must use one of the curves %s; this request has a %s key: generate a new key with "openssl ecparam -name %s -genkey -noout -out tls.key"`,
				strings.Join(g.AllowedCurves, ", "), k.Curve, opensslCurveNames[g.AllowedCurves[0]]))
		}
	case KeyAlgorithmEd25519:
	default:
		add(GuardRailKeyAlgorithm, fmt.Sprintf(
			`key algorithm %q is not supported: generate an ECDSA P-256, RSA or Ed25519 key`, k.Algorithm))
	}
	const resign = "sign it again with SHA-256 (openssl req -new -sha256)"
	switch sig := r.SignatureAlgorithm; {
	case strings.Contains(sig, "MD5") || strings.Contains(sig, "MD2"):
		add(GuardRailInsecureSignature, fmt.Sprintf("requests signed with MD5 or MD2 are refused; this request is signed with %s: %s", sig, resign))
	case g.RefuseSHA1 && strings.Contains(sig, "SHA1"):
		add(GuardRailRefuseSHA1, fmt.Sprintf("requests signed with SHA-1 are refused; this request is signed with %s: %s", sig, resign))
	}
	if len(problems) == 0 {
		return Verdict{}, false
	}
	return Verdict{Decision: Deny, Rule: rules[0], Message: strings.Join(problems, "; ")}, true
}

// hold returns the NoOpinion verdict of the protected-groups guard rail, if r is a
// request of kube-apiserver-client or another login signer for a protected group.
func (g GuardRails) hold(r *Request) (Verdict, bool) {
	if !g.IsLoginSigner(r.SignerName) {
		return Verdict{}, false
	}
	for _, o := range r.Subject.Organizations {
		if o == user.SystemPrivilegedGroup || slices.Contains(g.ProtectedGroups, o) {
			return Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups, Message: fmt.Sprintf(
				"guard rail protectedGroups: a %s certificate for the protected group %q is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it",
				r.SignerName, o)}, true
		}
	}
	return Verdict{}, false
}

// IsLoginSigner reports whether signerName's certificates log in to the server:
// kubernetes.io/kube-apiserver-client, or one of LoginSigners.
func (g GuardRails) IsLoginSigner(signerName string) bool {
	return signerName == csr.KubeAPIServerClientSignerName || slices.Contains(g.LoginSigners, signerName)
}

// Decide returns the final verdict on r and the verdict of every policy covering r's
// signer, in policy name order.
//
// Guard rails come first and no policy overrides them: a weak key or signature is denied
// whatever the policies say, and a login signer's request for a protected group is
// never approved (a policy may still deny it). Otherwise a Deny wins over an Approve, the
// first in name order deciding between equals. When no policy approves or denies, the
// final verdict is NoOpinion, and its message lists each policy considered with the reason
// it did not decide, or says that no policy covers the signer. Policies are evaluated even
// when a guard rail decides, so that the explanation is complete.
func Decide(ctx context.Context, policies []*Policy, g GuardRails, r *Request) (final Verdict, all []Verdict) {
	if r == nil {
		return Verdict{Decision: NoOpinion, Message: "there is no request to decide on"}, []Verdict{}
	}
	covering := make([]*Policy, 0, len(policies))
	for _, p := range policies {
		if p != nil && p.Covers(r.SignerName) {
			covering = append(covering, p)
		}
	}
	slices.SortStableFunc(covering, func(a, b *Policy) int { return strings.Compare(a.name, b.name) })

	all = make([]Verdict, 0, len(covering))
	if len(covering) > 0 {
		act, err := newActivation(r)
		for _, p := range covering {
			if err != nil {
				all = append(all, p.verdict(NoOpinion, "", "the request could not be given to CEL: "+err.Error()))
				continue
			}
			all = append(all, p.evaluate(ctx, act, r))
		}
	}

	if v, refused := g.refuse(r); refused {
		return v, all
	}
	if i := slices.IndexFunc(all, func(v Verdict) bool { return v.Decision == Deny }); i >= 0 {
		return all[i], all
	}
	if v, held := g.hold(r); held {
		return v, all
	}
	if i := slices.IndexFunc(all, func(v Verdict) bool { return v.Decision == Approve }); i >= 0 {
		return all[i], all
	}
	return undecided(r.SignerName, all), all
}

// undecided is the final verdict when no policy approves or denies.
func undecided(signerName string, all []Verdict) Verdict {
	if len(all) == 0 {
		return Verdict{Decision: NoOpinion, Message: fmt.Sprintf(
			"no approval policy covers signer %q, so a person must approve or deny this request (or an administrator can add the signer to a policy's signerNames)",
			signerName)}
	}
	reasons := make([]string, len(all))
	for i, v := range all {
		reasons[i] = v.Message
	}
	considered := "1 policy considered"
	if len(all) > 1 {
		considered = fmt.Sprintf("%d policies considered", len(all))
	}
	return Verdict{Decision: NoOpinion, Message: fmt.Sprintf(
		"no policy covering signer %q approves or denies this request (%s), so a person must decide: %s",
		signerName, considered, strings.Join(reasons, "; "))}
}
