package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/certificate"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/upstream"
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
	if p := i.Profiles[signerName]; p != nil && (p.CA != nil || p.Upstream != nil) {
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
	if profile.Upstream != nil {
		return i.signUpstream(ctx, obj, profile, req)
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

// signUpstream has profile's upstream sign req (its rules already passed), then checks
// the answer: an upstream that cannot be asked is an UnavailableError, an answer that is
// not the certificate asked for a RefusedError naming what the upstream returned.
func (i *Issuer) signUpstream(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, profile *signer.Profile, req *x509.CertificateRequest) (*certificate.Issued, error) {
	clk := i.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	ttl := certificate.Duration(obj.Spec.ExpirationSeconds, profile.MaxDuration)
	start := clk.Now()
	chain, err := profile.Upstream.Sign(ctx, req, obj.Spec.Usages, ttl)
	metrics.UpstreamRequests.WithLabelValues(profile.SignerName, upstreamResult(err)).Observe(metrics.Since(start, clk.Now()))
	var requestErr *upstream.RequestError
	if errors.As(err, &requestErr) {
		return nil, RefusedError{err}
	}
	if err != nil {
		return nil, UnavailableError{fmt.Errorf("signer %s: %w", profile.SignerName, err)}
	}
	intermediates, err := upstream.Check(req, obj.Spec.Usages, ttl, chain, profile.Upstream.Roots(), clk.Now())
	if err != nil {
		if len(chain) == 0 {
			return nil, RefusedError{fmt.Errorf("%s answered without a certificate", profile.Upstream.Name())}
		}
		return nil, RefusedError{fmt.Errorf("%s returned a certificate kcsr refuses: %w (serial %s, subject %q, issuer %q)",
			profile.Upstream.Name(), err, chain[0].SerialNumber.Text(16), chain[0].Subject.String(), chain[0].Issuer.String())}
	}
	return &certificate.Issued{Certificate: chain[0], PEM: pemutil.EncodeCertificate(chain[0].Raw),
		Intermediates: pemutil.EncodeCertificates(intermediates)}, nil
}

func upstreamResult(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}
