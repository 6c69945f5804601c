package issuance

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/certificate"
	"kcsr.dev/kcsr/pkg/signer"
)

// ReasonSignerValidationFailure is Kubernetes' reason for a request its signer refuses.
const ReasonSignerValidationFailure = "SignerValidationFailure"

// Issuer signs Approved CSRs with the CAs of the signers it serves.
type Issuer struct {
	// Profiles are the signers served, by signerName.
	Profiles map[string]*signer.Profile
	// Clock and Rand default to the real clock and crypto/rand.
	Clock clock.PassiveClock
	Rand  io.Reader
	// CRLDistributionPoints and OCSPServers are put in issued certificates when set.
	CRLDistributionPoints, OCSPServers func(signerName string) []string
}

// RefusedError is the signer's rules refusing a request: the CSR is Failed
// (ReasonSignerValidationFailure) with the error as message, and never retried.
type RefusedError struct{ error }

func (e RefusedError) Unwrap() error { return e.error }

// UnavailableError is a CA that cannot sign now (unreachable, expired): the CSR stays
// Approved with a SignerUnavailable condition, and signing is retried.
type UnavailableError struct{ error }

func (e UnavailableError) Unwrap() error { return e.error }

// Serves returns the profile of signerName, nil when no CA of this Issuer serves it.
func (i *Issuer) Serves(signerName string) *signer.Profile {
	if p := i.Profiles[signerName]; p != nil && p.CA != nil {
		return p
	}
	return nil
}

// Sign checks obj's request, req, against profile's rules and signs it with profile's CA.
// A refusal by the rules is a RefusedError, a CA that cannot sign an UnavailableError.
func (i *Issuer) Sign(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, profile *signer.Profile, req *x509.CertificateRequest) (*certificate.Issued, error) {
	if err := profile.Check(req, obj.Spec.Usages); err != nil {
		return nil, RefusedError{err}
	}
	chain, err := profile.CA.Chain(ctx)
	if err != nil || len(chain) == 0 {
		return nil, UnavailableError{fmt.Errorf("the CA of signer %s is unavailable: %v", profile.SignerName, err)}
	}
	clk := i.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	now := clk.Now()
	if caCert := chain[0]; !now.Before(caCert.NotAfter) {
		return nil, UnavailableError{fmt.Errorf("the CA of signer %s expired on %s; configure a valid CA", profile.SignerName, caCert.NotAfter.UTC().Format(time.RFC3339))}
	}
	opts := certificate.Options{
		Now:      now,
		Rand:     i.Rand,
		TTL:      certificate.Duration(obj.Spec.ExpirationSeconds, profile.MaxDuration),
		Backdate: 5 * time.Minute,
	}
	if i.CRLDistributionPoints != nil {
		opts.CRLDistributionPoints = i.CRLDistributionPoints(profile.SignerName)
	}
	if i.OCSPServers != nil {
		opts.OCSPServers = i.OCSPServers(profile.SignerName)
	}
	signed, err := certificate.Sign(ctx, profile.CA, req, obj.Spec.Usages, opts)
	if err != nil {
		return nil, fmt.Errorf("error auto signing csr: %w", err)
	}
	return signed, nil
}
