// Package ca is the contract between kcsr's signers and the keys of its certificate
// authorities. A Backend is a CA key (in a file, an HSM, …) with its certificate chain;
// nothing outside pkg/ca touches CA key material except through a Backend.
package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Backend is a certificate authority key with its certificate chain.
type Backend interface {
	// Chain returns the CA certificate first, then its intermediates, if any.
	Chain(ctx context.Context) ([]*x509.Certificate, error)
	// Signer returns a crypto.Signer for the CA key, bound to ctx where the backend can
	// honour it.
	Signer(ctx context.Context) (crypto.Signer, error)
	// Close releases the backend's resources. It is safe to call twice.
	Close() error
}

// Errors callers branch on.
var (
	ErrExpired        = errors.New("ca: the CA certificate has expired")
	ErrNotYetValid    = errors.New("ca: the CA certificate is not valid yet")
	ErrNotCA          = errors.New("ca: the certificate is not a CA certificate")
	ErrKeyMismatch    = errors.New("ca: the private key does not match the CA certificate")
	ErrNoCertSign     = errors.New("ca: the CA certificate lacks the certificate-signing key usage")
	ErrEmptyChain     = errors.New("ca: the backend has no CA certificate")
	ErrUnsupportedKey = errors.New("ca: unsupported key type")
)

// Check validates a loaded CA at time now: the key matches the certificate, the
// certificate is a CA allowed to sign certificates, and it is within its validity.
func Check(ctx context.Context, b Backend, now time.Time) error {
	chain, err := b.Chain(ctx)
	if err != nil {
		return err
	}
	if len(chain) == 0 {
		return ErrEmptyChain
	}
	cert := chain[0]
	signer, err := b.Signer(ctx)
	if err != nil {
		return err
	}
	if !PublicKeysEqual(cert.PublicKey, signer.Public()) {
		return fmt.Errorf("%w; use the key the certificate was issued for", ErrKeyMismatch)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return fmt.Errorf("%w (basicConstraints CA:TRUE is missing); use a CA certificate", ErrNotCA)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w; reissue it with keyUsage keyCertSign", ErrNoCertSign)
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w on %s; configure a valid CA", ErrExpired, cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w until %s; check the clock or the certificate", ErrNotYetValid, cert.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// PublicKeysEqual reports whether two public keys are the same key.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}
