// Package certificate builds and signs the leaf certificates kcsr issues, as Kubernetes'
// csrsigning controller does (pkg/controller/certificates/authority upstream):
//   - a random serial number in [1, 2^128);
//   - the subject, the DNS, IP, email and URI subject alternative names and the public key
//     copied from the request; every extension the request asks for is dropped;
//   - keyUsage and extKeyUsage from spec.usages only (csr.KeyUsages), basicConstraints
//     CA:FALSE;
//   - NotBefore = now − backdate, NotAfter = now + TTL − backdate when TTL ≥ 8h (the
//     lifetime is exactly the TTL) or now + TTL for shorter TTLs, clamped to the CA's
//     NotAfter, with upstream's errors for a CA that has expired;
//   - the signature algorithm Go chooses for the CA key; the leaf alone in the output, never
//     a CA certificate.
//
// kcsr adds, where Kubernetes does not: NotBefore is never before the CA's NotBefore, and a
// CA that is not valid yet does not sign; the subject key identifier (RFC 5280 §4.2.1.2
// method 1) and the authority key identifier (the CA's, computed the same way when its
// certificate has none); and, when configured, CRL distribution point and OCSP responder
// URLs.
//
// The package signs through a ca.Backend and never sees key material. It holds no
// Kubernetes machinery beyond the k8s.io/api/certificates/v1 usage type, and never reads
// the clock: the caller passes Now.
package certificate

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Kubernetes' signer constants.
const (
	// DefaultBackdate is how far NotBefore is set in the past, for clients whose clocks are
	// behind the signer's (kube-controller-manager's 5 minutes).
	DefaultBackdate = 5 * time.Minute
	// short is the TTL below which the backdate is added to the lifetime instead of taken
	// from it.
	short = 8 * time.Hour
	// minimumTTL is the shortest lifetime a signer issues (the minimum expirationSeconds).
	minimumTTL = 10 * time.Minute
)

// Options are the parameters of one issuance.
type Options struct {
	// Now is the signer's time. Required: the package never reads the clock.
	Now time.Time
	// Rand is the source of serial numbers; crypto/rand when nil. It is not used for the
	// signature, which always draws from crypto/rand.
	Rand io.Reader
	// TTL is the lifetime, already chosen by the caller (see Duration). Required.
	TTL time.Duration
	// Backdate moves NotBefore into the past; DefaultBackdate as Kubernetes. Zero means no
	// backdate.
	Backdate time.Duration
	// OCSPServers and CRLDistributionPoints are written into the certificate when not
	// empty.
	OCSPServers, CRLDistributionPoints []string
}

// Issued is a signed certificate.
type Issued struct {
	Certificate *x509.Certificate
	// PEM is the leaf alone: one CERTIFICATE block.
	PEM []byte
	// Intermediates are the CA certificates between the leaf and its roots (PEM), issuer
	// first, when it is not kcsr's own CA that issued it (an upstream's); nil otherwise.
	Intermediates []byte
}

// Duration is Kubernetes' choice of lifetime (signer.duration upstream): max when no
// expirationSeconds is requested or more than max is requested, never less than 10 minutes.
func Duration(expirationSeconds *int32, max time.Duration) time.Duration {
	if expirationSeconds == nil {
		return max
	}
	d := time.Duration(*expirationSeconds) * time.Second
	switch {
	case d > max:
		return max
	case d < minimumTTL:
		return minimumTTL
	}
	return d
}

// Sign issues the certificate for req with the CA of b.
//
// req must come from csr.ParseRequest, which has verified its signature (the requester's
// proof that it holds the key); Sign does not verify it a second time. Requests the signer
// must refuse (reference §3) are the caller's to refuse before calling Sign.
func Sign(ctx context.Context, b ca.Backend, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, o Options) (*Issued, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	chain, err := b.Chain(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificate: %w", err)
	}
	if len(chain) == 0 {
		return nil, ca.ErrNoCertificate
	}
	caCert := chain[0]
	tmpl, err := Template(req, usages, caCert, o)
	if err != nil {
		return nil, err
	}
	key, err := b.Signer(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the CA key: %w", err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, req.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("failed to sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the signed certificate: %w", err)
	}
	return &Issued{Certificate: cert, PEM: pemutil.EncodeCertificate(der)}, nil
}

// Template builds the certificate Sign signs for req, issued by caCert.
func Template(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, caCert *x509.Certificate, o Options) (*x509.Certificate, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	keyUsage, extKeyUsage, err := csr.KeyUsages(usages)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter, err := Validity(o.Now, o.TTL, o.Backdate, caCert)
	if err != nil {
		return nil, err
	}
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	serial, err := Serial(r)
	if err != nil {
		return nil, fmt.Errorf("unable to generate a serial number for %s: %w", req.Subject.CommonName, err)
	}
	ski, err := KeyID(req.PublicKey)
	if err != nil {
		return nil, err
	}
	aki := caCert.SubjectKeyId
	if len(aki) == 0 {
		if aki, err = KeyID(caCert.PublicKey); err != nil {
			return nil, err
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               req.Subject,
		DNSNames:              req.DNSNames,
		IPAddresses:           req.IPAddresses,
		EmailAddresses:        req.EmailAddresses,
		URIs:                  req.URIs,
		PublicKeyAlgorithm:    req.PublicKeyAlgorithm,
		PublicKey:             req.PublicKey,
		KeyUsage:              keyUsage,
		ExtKeyUsage:           extKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  false,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		SubjectKeyId:          ski,
		AuthorityKeyId:        aki,
	}
	if len(o.OCSPServers) > 0 {
		tmpl.OCSPServer = o.OCSPServers
	}
	if len(o.CRLDistributionPoints) > 0 {
		tmpl.CRLDistributionPoints = o.CRLDistributionPoints
	}
	return tmpl, nil
}

func (o Options) validate() error {
	switch {
	case o.Now.IsZero():
		return errors.New("certificate: Options.Now is required; pass the signer's clock time")
	case o.TTL <= 0:
		return fmt.Errorf("certificate: Options.TTL is %s; it must be positive (see Duration)", o.TTL)
	case o.Backdate < 0:
		return fmt.Errorf("certificate: Options.Backdate is %s; it must not be negative", o.Backdate)
	}
	return nil
}

// Validity computes NotBefore and NotAfter as Kubernetes' signer does (PermissiveSigningPolicy
// upstream), with NotBefore never before the CA's NotBefore. Its errors are upstream's:
// "the signer has expired" when NotBefore is not before the CA's NotAfter, then "refusing to
// sign a certificate that expired in the past" when now is not; and kcsr's "the signer is
// not valid yet" when now is before the CA's NotBefore.
func Validity(now time.Time, ttl, backdate time.Duration, caCert *x509.Certificate) (notBefore, notAfter time.Time, err error) {
	notBefore = now.Add(-backdate)
	if notBefore.Before(caCert.NotBefore) {
		notBefore = caCert.NotBefore
	}
	if ttl < short {
		// A short-lived certificate is not shortened by the backdate.
		notAfter = now.Add(ttl)
	} else {
		notAfter = now.Add(ttl - backdate)
	}
	if !notAfter.Before(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	if !notBefore.Before(caCert.NotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("the signer has expired: NotAfter=%v", caCert.NotAfter)
	}
	if !now.Before(caCert.NotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("refusing to sign a certificate that expired in the past: NotAfter=%v", caCert.NotAfter)
	}
	if now.Before(caCert.NotBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("the signer is not valid yet: NotBefore=%v", caCert.NotBefore)
	}
	return notBefore, notAfter, nil
}

// serialLimit is 2^128.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// Serial returns a random serial number in [1, 2^128) read from r: Kubernetes' 128 random
// bits, drawing again in the one case in 2^128 where they are all zero (RFC 5280 wants a
// positive serial number).
func Serial(r io.Reader) (*big.Int, error) {
	for {
		n, err := rand.Int(r, serialLimit)
		if err != nil {
			return nil, err
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// KeyID is the RFC 5280 §4.2.1.2 method (1) key identifier of pub: the SHA-1 of the
// subjectPublicKey BIT STRING (not of the whole SubjectPublicKeyInfo). (Go 1.25 and later
// give CA certificates they create without one a truncated SHA-256 identifier, RFC 7093
// method 1, instead; the authority key identifier copies whatever the CA certificate has.)
func KeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}
