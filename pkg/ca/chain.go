package ca

import (
	"bytes"
	"crypto/x509"
)

// TrimRoot returns chain without its last certificate when that is a self-signed root
// issuing the others: what Backend.Chain returns for an intermediate CA, since relying
// parties have the root already and must not take it from the chain. A chain of one
// certificate is returned as is.
func TrimRoot(chain []*x509.Certificate) []*x509.Certificate {
	if len(chain) < 2 {
		return chain
	}
	last := chain[len(chain)-1]
	if !bytes.Equal(last.RawSubject, last.RawIssuer) || last.CheckSignatureFrom(last) != nil {
		return chain
	}
	return chain[:len(chain)-1]
}
