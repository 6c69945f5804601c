package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/inventory"
)

// UpstreamSigner is a login signer whose certificates an upstream CA issues (a
// --signer-config signer with upstream.login): its certificates log in when they chain to
// Roots and the inventory records them for SignerName.
type UpstreamSigner struct {
	SignerName string
	Roots      []*x509.Certificate
}

// upstreamCerts authenticates the certificates of one upstream login signer. The
// upstream is not trusted for who a certificate names, only for having signed what kcsr
// asked it to sign: a certificate that chains to its roots logs in only when the
// inventory holds a login record of it (spec.login, by SHA-256 fingerprint) for this
// signer, which kcsr writes when it issues through the upstream as a login signer
// (creating one by hand needs "approve" and "sign" on the signer: KcsrIssuanceAuthority).
// Anything else the upstream signs, for its other clients or by its administrators, is
// refused. Revocation is checked as for the cluster CA's certificates (withRevocation).
type upstreamCerts struct {
	signerName string
	inventory  *inventory.Index
}

// newUpstream returns the authenticator of s's certificates.
func newUpstream(s UpstreamSigner, index *inventory.Index) authenticator.Request {
	opts := x509request.DefaultVerifyOptions()
	opts.Roots = x509.NewCertPool()
	for _, r := range s.Roots {
		opts.Roots.AddCert(r)
	}
	return x509request.New(opts, upstreamCerts{signerName: s.SignerName, inventory: index})
}

// User implements x509request.UserConversion for a chain verified to the upstream's
// roots.
func (u upstreamCerts) User(chain []*x509.Certificate) (*authenticator.Response, bool, error) {
	sum := sha256.Sum256(chain[0].Raw)
	records, err := u.inventory.ByFingerprint(hex.EncodeToString(sum[:]))
	if errors.Is(err, inventory.ErrNotLoaded) {
		return nil, false, fmt.Errorf("x509: a certificate of upstream signer %s cannot log in before the inventory is loaded", u.signerName)
	}
	if err != nil {
		return nil, false, fmt.Errorf("x509: %w", err)
	}
	for _, r := range records {
		if r.SignerName != u.signerName {
			continue
		}
		// A login signer never issues system:masters (signer.MarkLoginSigners): a
		// record of one came from elsewhere.
		if slices.Contains(chain[0].Subject.Organization, user.SystemPrivilegedGroup) {
			return nil, false, fmt.Errorf("x509: certificate %s of upstream signer %s names %s, which no login signer issues", chain[0].Subject, u.signerName, user.SystemPrivilegedGroup)
		}
		return x509request.CommonNameUserConversion.User(chain)
	}
	return nil, false, fmt.Errorf("x509: certificate %s (serial %s) chains to the upstream CA of signer %s, but kcsr's inventory has no record of it for that signer issued for login: only certificates kcsr issued through the upstream for login log in",
		chain[0].Subject, chain[0].SerialNumber.Text(16), u.signerName)
}
