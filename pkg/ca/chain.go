package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseChain parses a PEM file holding the CA certificate followed by the certificates that
// issued it, possibly up to the root. Every PEM block must be a CERTIFICATE; text between
// blocks is ignored (openssl writes a human-readable dump there). The order is checked by
// Check, not here.
func ParseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q; the file must hold only CERTIFICATE blocks (keep the key in its own file)", len(chain)+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(chain)+1, err)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block found; give the CA certificate in PEM form (-----BEGIN CERTIFICATE-----)")
	}
	return chain, nil
}

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
