package ca

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
)

// Identity names a CA as relying parties see it: its subject and its public key. Two
// certificates with the same Identity (a CA certificate renewed for the same key) issue
// certificates, CRLs and OCSP responses that verify against either, so they are one CA.
type Identity [sha256.Size]byte

// IdentityOf returns the Identity of the CA certificate cert.
func IdentityOf(cert *x509.Certificate) Identity {
	h := sha256.New()
	h.Write(cert.RawSubject)
	h.Write(cert.RawSubjectPublicKeyInfo)
	var id Identity
	h.Sum(id[:0])
	return id
}

// ChainsTo reports whether the CA whose chain is given (the CA certificate first, then
// the certificates that issued it, as Backend.Chain returns it) is one of trusted (same
// subject and key), or is issued by one of trusted, directly or through the certificates
// of chain. A server trusting trusted for client certificates accepts the certificates
// such a CA issues, given the intermediates.
//
// Validity periods are not considered: a CA that is not valid yet, or an intermediate that
// expired and is renewed, issues certificates that log in later. Answering "trusted" too
// often only applies a guard rail more widely.
func ChainsTo(chain, trusted []*x509.Certificate) bool {
	for i, c := range chain {
		for _, t := range trusted {
			if IdentityOf(c) == IdentityOf(t) {
				return true
			}
			if bytes.Equal(c.RawIssuer, t.RawSubject) && c.CheckSignatureFrom(t) == nil {
				return true
			}
		}
		// Go up only along a chain that holds together.
		if i+1 == len(chain) || !bytes.Equal(c.RawIssuer, chain[i+1].RawSubject) || c.CheckSignatureFrom(chain[i+1]) != nil {
			return false
		}
	}
	return false
}
