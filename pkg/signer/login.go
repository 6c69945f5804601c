package signer

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"sort"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/ca"
)

// MarkLoginSigners finds the login signers among profiles: those whose CA the server
// accepts client certificates from, that is whose CA is one of trusted or is issued by one
// of them (ca.ChainsTo), and the upstream signers configured for login (UpstreamLogin). It sets their Login and wraps their Check so that, after the
// signer's own rules, a request naming the group system:masters is refused: whoever
// approved it, nothing these signers issue logs in as a cluster administrator. It returns
// the login signers' names, sorted. Calling it again marks nothing twice.
func MarkLoginSigners(ctx context.Context, profiles map[string]*Profile, trusted []*x509.Certificate) ([]string, error) {
	names := make([]string, 0, len(profiles))
	for name := range profiles {
		names = append(names, name)
	}
	sort.Strings(names)
	var login []string
	for _, name := range names {
		p := profiles[name]
		switch {
		case p.Upstream != nil:
			if !p.UpstreamLogin && !upstreamLogin(p.Upstream.Roots(), trusted) {
				continue
			}
		case p.CA != nil:
			chain, err := p.CA.Chain(ctx)
			if err != nil {
				return nil, fmt.Errorf("signer %s: read the CA certificate: %w", name, err)
			}
			if !ca.ChainsTo(chain, trusted) {
				continue
			}
		default:
			continue
		}
		login = append(login, name)
		if p.Login {
			continue
		}
		p.Login = true
		check, signerName := p.Check, p.SignerName
		if signerName == "" {
			signerName = name
		}
		p.Check = func(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage) error {
			if check != nil {
				if err := check(req, usages); err != nil {
					return err
				}
			}
			return refuseSystemMasters(signerName, req)
		}
	}
	return login, nil
}

// upstreamLogin says whether an upstream CA with these roots may issue certificates the
// server accepts for login: one of its roots is trusted or issued by a trusted CA, or a
// trusted CA is issued by one of its roots (the server trusts one of the upstream's
// intermediates). Its issuing CA is not known before it signs, so the answer leans to
// "login": the guard rails then apply.
func upstreamLogin(roots, trusted []*x509.Certificate) bool {
	for _, r := range roots {
		if ca.ChainsTo([]*x509.Certificate{r}, trusted) {
			return true
		}
		for _, t := range trusted {
			if ca.ChainsTo([]*x509.Certificate{t}, []*x509.Certificate{r}) {
				return true
			}
		}
	}
	return false
}

// refuseSystemMasters refuses a request of a login signer for the group system:masters.
func refuseSystemMasters(signerName string, req *x509.CertificateRequest) error {
	if slices.Contains(req.Subject.Organization, user.SystemPrivilegedGroup) {
		return fmt.Errorf("subject organization %q is not allowed for signer %s: the server accepts this signer's certificates for login, and %s is the cluster administrators' group; request the certificate without it",
			user.SystemPrivilegedGroup, signerName, user.SystemPrivilegedGroup)
	}
	return nil
}
