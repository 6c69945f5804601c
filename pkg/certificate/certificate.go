// Package certificate builds and signs the leaf certificates kcsr issues, exactly as
// Kubernetes' csrsigning controller does (reference §4.1): a random serial below 2^128,
// subject, SANs and public key copied from the request, every requested extension dropped,
// key usages and extended key usages from spec.usages, not a CA, NotBefore backdated 5
// minutes (never before the CA's NotBefore), NotAfter from the TTL and clamped to the CA's
// NotAfter. kcsr adds the subject and authority key identifiers, and, when configured, the
// CRL distribution point and OCSP responder URLs.
package certificate

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/csr"
)

// Kubernetes' signer constants.
const (
	// DefaultBackdate tolerates clock skew between the signer and the certificate's users.
	DefaultBackdate = 5 * time.Minute
	// short is the TTL below which the backdate is added to the lifetime instead of taken
	// from it.
	short = 8 * time.Hour
	// minimumTTL is the shortest lifetime a signer issues.
	minimumTTL = 10 * time.Minute
)

// Options are the parameters of one issuance.
type Options struct {
	Now      time.Time
	Rand     io.Reader // serial numbers; crypto/rand when nil
	TTL      time.Duration
	Backdate time.Duration
	// OCSPServers and CRLDistributionPoints are written when not empty.
	OCSPServers, CRLDistributionPoints []string
}

// Issued is a signed certificate.
type Issued struct {
	Certificate *x509.Certificate
	PEM         []byte // the leaf only, one CERTIFICATE block
}

// Duration is Kubernetes' choice of lifetime: the signer's maximum when none is requested
// or more is requested, never less than 10 minutes.
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

// Template builds the certificate for req, before signing, issued by caCert.
func Template(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, caCert *x509.Certificate, o Options) (*x509.Certificate, error) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	serial, err := Serial(r)
	if err != nil {
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
	return &x509.Certificate{
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
		OCSPServer:            o.OCSPServers,
		CRLDistributionPoints: o.CRLDistributionPoints,
	}, nil
}

// Sign issues the certificate for req with the CA of b. req must come from
// csr.ParseRequest, which has verified its signature (proof of possession); Sign does not
// verify it a second time.
func Sign(ctx context.Context, b ca.Backend, req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, o Options) (*Issued, error) {
	chain, err := b.Chain(ctx)
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 {
		return nil, ca.ErrEmptyChain
	}
	caCert := chain[0]
	tmpl, err := Template(req, usages, caCert, o)
	if err != nil {
		return nil, err
	}
	key, err := b.Signer(ctx)
	if err != nil {
		return nil, err
	}
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	der, err := x509.CreateCertificate(r, tmpl, caCert, req.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issued{Certificate: cert, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Validity computes NotBefore and NotAfter as Kubernetes' signer does.
func Validity(now time.Time, ttl, backdate time.Duration, caCert *x509.Certificate) (time.Time, time.Time, error) {
	notBefore := now.Add(-backdate)
	if notBefore.Before(caCert.NotBefore) {
		notBefore = caCert.NotBefore
	}
	notAfter := now.Add(ttl)
	if ttl >= short {
		// The backdate is part of the lifetime: a 24h certificate lives 24h.
		notAfter = notAfter.Add(-backdate)
	}
	if !now.Before(caCert.NotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("refusing to sign a certificate that expired in the past: NotAfter=%s", caCert.NotAfter)
	}
	if !notBefore.Before(caCert.NotAfter) {
		return time.Time{}, time.Time{}, fmt.Errorf("the signer has expired: NotAfter=%s", caCert.NotAfter)
	}
	if notAfter.After(caCert.NotAfter) {
		notAfter = caCert.NotAfter
	}
	return notBefore, notAfter, nil
}

// serialLimit is 2^128.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

// Serial returns a random serial number in [1, 2^128).
func Serial(r io.Reader) (*big.Int, error) {
	for {
		n, err := rand.Int(r, serialLimit)
		if err != nil {
			return nil, fmt.Errorf("generate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// KeyID is the RFC 5280 §4.2.1.2 method (1) key identifier: the SHA-1 of the
// subjectPublicKey BIT STRING.
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
