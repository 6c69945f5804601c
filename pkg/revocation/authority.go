package revocation

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
)

// Default validities of Authority.
const (
	DefaultCRLValidity  = 24 * time.Hour
	DefaultOCSPValidity = time.Hour
)

// Errors callers branch on (with errors.Is); the errors returned wrap them and say what to
// change.
var (
	// ErrNoCRLSign: the CA certificate's keyUsage lacks cRLSign (or it has no keyUsage
	// extension), so it may not sign CRLs.
	ErrNoCRLSign = errors.New("the CA certificate does not allow CRL signing")
	// ErrNoSubjectKeyID: the CA certificate has no subjectKeyIdentifier, which the
	// CRL's authorityKeyIdentifier must repeat.
	ErrNoSubjectKeyID = errors.New("the CA certificate has no subject key identifier")
	// ErrResponder: the delegated OCSP responder is not usable.
	ErrResponder = errors.New("the delegated OCSP responder is not usable")
)

// Authority signs the CRLs and OCSP responses of one CA. Its fields are read, never
// written, by its methods: set them before use and do not change them while it serves.
type Authority struct {
	// Backend is the CA: CRLs are signed with its key, OCSP responses too unless a
	// delegated responder is set.
	Backend ca.Backend
	// ResponderCert and ResponderKey, when both are set, sign OCSP responses instead of
	// the CA: a delegated responder certificate issued by the CA with the
	// id-kp-OCSPSigning extended key usage (and, as RFC 6960 §4.2.2.2.1 advises,
	// id-pkix-ocsp-nocheck), and its key. The certificate goes into every response so
	// that clients can check the delegation.
	ResponderCert *x509.Certificate
	ResponderKey  crypto.Signer
	// CRLValidity is nextUpdate − thisUpdate of CRLs; DefaultCRLValidity when zero.
	CRLValidity time.Duration
	// OCSPValidity is nextUpdate − thisUpdate of OCSP responses; DefaultOCSPValidity when
	// zero.
	OCSPValidity time.Duration
	// Rand is given to the signers; crypto/rand when nil. (Go's own signers may draw
	// their randomness elsewhere.)
	Rand io.Reader
}

// Check validates a at time now, once after it is built and whenever its CA or
// responder changes; CRL and OCSPResponse only do the checks that cost nothing. It
// reports the CA certificate unable to sign CRLs, and a delegated responder that is half
// configured, not issued by the CA, without the OCSPSigning extended key usage, not valid
// at now, or whose key is not its certificate's.
func (a *Authority) Check(ctx context.Context, now time.Time) error {
	if err := a.checkValidities(); err != nil {
		return err
	}
	issuer, _, err := a.caKey(ctx)
	if err != nil {
		return err
	}
	if err := checkCRLIssuer(issuer); err != nil {
		return err
	}
	if a.ResponderCert == nil && a.ResponderKey == nil {
		return nil
	}
	if err := a.checkResponderKey(); err != nil {
		return err
	}
	rc := a.ResponderCert
	if err := rc.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%w: the responder certificate %q is not issued by the CA %q (%v); issue it with the CA key", ErrResponder, rc.Subject, issuer.Subject, err)
	}
	if !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fmt.Errorf("%w: the responder certificate %q lacks the extended key usage OCSPSigning; reissue it with extendedKeyUsage=OCSPSigning", ErrResponder, rc.Subject)
	}
	if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
		return fmt.Errorf("%w: the responder certificate %q is valid from %s to %s, not at %s; issue a new one",
			ErrResponder, rc.Subject, rc.NotBefore.UTC().Format(time.RFC3339), rc.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func (a *Authority) checkValidities() error {
	if a.CRLValidity < 0 {
		return fmt.Errorf("CRLValidity: %s is negative; give a positive duration, or zero for %s", a.CRLValidity, DefaultCRLValidity)
	}
	if a.OCSPValidity < 0 {
		return fmt.Errorf("OCSPValidity: %s is negative; give a positive duration, or zero for %s", a.OCSPValidity, DefaultOCSPValidity)
	}
	return nil
}

// checkResponderKey checks that the responder is either absent or complete with the key
// of its certificate.
func (a *Authority) checkResponderKey() error {
	switch {
	case a.ResponderCert == nil && a.ResponderKey == nil:
		return nil
	case a.ResponderCert == nil:
		return fmt.Errorf("%w: a responder key is set without its certificate; give both, or neither to sign with the CA", ErrResponder)
	case a.ResponderKey == nil:
		return fmt.Errorf("%w: the responder certificate %q is set without its key; give both, or neither to sign with the CA", ErrResponder, a.ResponderCert.Subject)
	case !publicKeysEqual(a.ResponderCert.PublicKey, a.ResponderKey.Public()):
		return fmt.Errorf("%w: the responder key is not the key of the responder certificate %q; give the key the certificate was issued for", ErrResponder, a.ResponderCert.Subject)
	}
	return nil
}

// caKey returns the CA certificate and key.
func (a *Authority) caKey(ctx context.Context) (*x509.Certificate, crypto.Signer, error) {
	if a.Backend == nil {
		return nil, nil, errors.New("revocation: Authority.Backend is not set")
	}
	chain, err := a.Backend.Chain(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read the CA certificate: %w", err)
	}
	if len(chain) == 0 {
		return nil, nil, ca.ErrNoCertificate
	}
	signer, err := a.Backend.Signer(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open the CA key: %w", err)
	}
	if !publicKeysEqual(chain[0].PublicKey, signer.Public()) {
		return nil, nil, fmt.Errorf("%w: the CA %q", ca.ErrKeyMismatch, chain[0].Subject)
	}
	return chain[0], signer, nil
}

// checkCRLIssuer checks that issuer may sign CRLs (x509.CreateRevocationList requires it,
// with messages that do not say what to do).
func checkCRLIssuer(issuer *x509.Certificate) error {
	if issuer.KeyUsage == 0 {
		return fmt.Errorf("%w: %q has no keyUsage extension; reissue the CA with keyUsage=critical,keyCertSign,cRLSign", ErrNoCRLSign, issuer.Subject)
	}
	if issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return fmt.Errorf("%w: the keyUsage of %q lacks cRLSign; reissue the CA with keyUsage=critical,keyCertSign,cRLSign", ErrNoCRLSign, issuer.Subject)
	}
	if len(issuer.SubjectKeyId) == 0 {
		return fmt.Errorf("%w: %q; reissue the CA with subjectKeyIdentifier=hash", ErrNoSubjectKeyID, issuer.Subject)
	}
	return nil
}

func (a *Authority) rand() io.Reader {
	if a.Rand != nil {
		return a.Rand
	}
	return rand.Reader
}

func (a *Authority) crlValidity() time.Duration {
	if a.CRLValidity > 0 {
		return a.CRLValidity
	}
	return DefaultCRLValidity
}

func (a *Authority) ocspValidity() time.Duration {
	if a.OCSPValidity > 0 {
		return a.OCSPValidity
	}
	return DefaultOCSPValidity
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}
