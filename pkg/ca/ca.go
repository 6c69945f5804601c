package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Backend is a certificate authority key with its certificate chain.
//
// Implementations are safe for concurrent use: the signer controller signs from several
// workers at once.
type Backend interface {
	// Chain returns the CA certificate first, then, when the CA is an intermediate, the
	// certificates that issued it in order, without the root. A self-signed CA returns
	// itself alone.
	Chain(ctx context.Context) ([]*x509.Certificate, error)
	// Signer returns a crypto.Signer for the CA key, bound to ctx where the backend can
	// honour it.
	Signer(ctx context.Context) (crypto.Signer, error)
	// Close releases sessions and handles. It is safe to call twice.
	Close() error
}

// Errors callers branch on (with errors.Is). The errors Check returns wrap them and add
// what to change.
var (
	// ErrNoCertificate: the backend has no CA certificate.
	ErrNoCertificate = errors.New("the CA has no certificate")
	// ErrKeyMismatch: the key is not the key of the CA certificate.
	ErrKeyMismatch = errors.New("the CA key does not match the CA certificate")
	// ErrKeyCannotSign: the key refused to produce a signature the certificate verifies.
	ErrKeyCannotSign = errors.New("the CA key cannot sign")
	// ErrNotCA: the certificate lacks basicConstraints CA:TRUE.
	ErrNotCA = errors.New("the CA certificate is not a CA certificate")
	// ErrNoCertSign: the certificate has a keyUsage extension without keyCertSign.
	ErrNoCertSign = errors.New("the CA certificate does not allow certificate signing")
	// ErrExpired: a certificate of the chain is past its NotAfter.
	ErrExpired = errors.New("the CA has expired")
	// ErrNotYetValid: a certificate of the chain is before its NotBefore.
	ErrNotYetValid = errors.New("the CA is not valid yet")
	// ErrChainOrder: a certificate of the chain is not issued by the one after it.
	ErrChainOrder = errors.New("the CA certificate chain is out of order")
	// ErrClosed: the backend was used after Close.
	ErrClosed = errors.New("the CA backend is closed")
)

// Check validates a loaded CA at time now and returns the first problem it finds:
//   - the backend has a certificate, and its key is the certificate's key (public keys
//     compared, then a test signature verified with the certificate, which catches an HSM
//     whose public and private objects do not belong together);
//   - the certificate is a CA (basicConstraints CA:TRUE) and, when it has a keyUsage
//     extension, that extension allows keyCertSign (a CA certificate without any keyUsage
//     extension is accepted, as Go's verifier and Kubernetes accept it);
//   - every certificate of the chain is within its validity at now;
//   - each certificate of the chain is issued by the next one.
func Check(ctx context.Context, b Backend, now time.Time) error {
	chain, err := b.Chain(ctx)
	if err != nil {
		return fmt.Errorf("read the CA certificate: %w", err)
	}
	if len(chain) == 0 {
		return fmt.Errorf("%w; give the CA certificate (PEM) with the key", ErrNoCertificate)
	}
	cert := chain[0]
	signer, err := b.Signer(ctx)
	if err != nil {
		return fmt.Errorf("open the CA key: %w", err)
	}
	if !publicKeysEqual(cert.PublicKey, signer.Public()) {
		return fmt.Errorf("%w (the certificate %q is for %s, the key is %s); use the key the certificate was issued for, or the certificate issued for this key",
			ErrKeyMismatch, cert.Subject.String(), describeKey(cert.PublicKey), describeKey(signer.Public()))
	}
	if err := testSignature(cert, signer); err != nil {
		return err
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return fmt.Errorf("%w: %q lacks basicConstraints CA:TRUE; use a CA certificate, or reissue it with basicConstraints=critical,CA:TRUE", ErrNotCA, cert.Subject.String())
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return fmt.Errorf("%w: the keyUsage of %q lacks keyCertSign; reissue it with keyUsage=critical,keyCertSign,cRLSign", ErrNoCertSign, cert.Subject.String())
	}
	for i, c := range chain {
		what := fmt.Sprintf("the CA certificate %q", c.Subject.String())
		if i > 0 {
			what = fmt.Sprintf("its issuer %q (certificate %d of the chain)", c.Subject.String(), i+1)
		}
		if now.After(c.NotAfter) {
			return fmt.Errorf("%w: %s expired at %s (it is now %s); renew the CA and configure the new certificate and key",
				ErrExpired, what, c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		if now.Before(c.NotBefore) {
			return fmt.Errorf("%w: %s is valid from %s (it is now %s); check this machine's clock, or wait until then",
				ErrNotYetValid, what, c.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return fmt.Errorf("%w: certificate %d (%q) is not issued by certificate %d (%q): %v; list the CA certificate first, then its issuer, then the issuer's issuer",
				ErrChainOrder, i+1, chain[i].Subject.String(), i+2, chain[i+1].Subject.String(), err)
		}
	}
	return nil
}

// testSignature signs a fixed message with signer and verifies it with cert's public key.
func testSignature(cert *x509.Certificate, signer crypto.Signer) error {
	msg := []byte("kcsr: CA key check")
	digest := sha256.Sum256(msg)
	var (
		sig []byte
		err error
	)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if sig, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
		}
	case *ecdsa.PublicKey:
		if sig, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil && !ecdsa.VerifyASN1(pub, digest[:], sig) {
			err = errors.New("the signature does not verify with the certificate's public key")
		}
	case ed25519.PublicKey:
		if sig, err = signer.Sign(rand.Reader, msg, crypto.Hash(0)); err == nil && !ed25519.Verify(pub, msg, sig) {
			err = errors.New("the signature does not verify with the certificate's public key")
		}
	default:
		return fmt.Errorf("the CA certificate has a %s; use an RSA, ECDSA or Ed25519 CA key", describeKey(cert.PublicKey))
	}
	if err != nil {
		return fmt.Errorf("%w: a test signature failed: %v; check that the key is the certificate's and is allowed to sign (for an HSM: the PIN, and CKA_SIGN on the private key)", ErrKeyCannotSign, err)
	}
	return nil
}

// publicKeysEqual reports whether two public keys are the same key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

// describeKey names a public key for an error message ("an ECDSA P-256 key").
func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("an RSA %d key", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "an ECDSA " + k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "an Ed25519 key"
	default:
		return fmt.Sprintf("a key of type %T", pub)
	}
}
