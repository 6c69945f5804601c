// Package file is the CA backend whose key is a PEM file on disk (RSA, ECDSA or Ed25519;
// PKCS#8, SEC 1 or PKCS#1). The certificate file holds the CA certificate, optionally
// followed by intermediates. A key file readable by group or others is refused.
package file

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/pki"
)

// Backend is a CA loaded from files.
type Backend struct {
	chain []*x509.Certificate
	key   crypto.Signer
}

var _ ca.Backend = &Backend{}

// Load reads certFile and keyFile and checks them with ca.Check at now.
func Load(ctx context.Context, certFile, keyFile string, now time.Time) (*Backend, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("CA key %s has mode %#o, readable by others; run: chmod 600 %s", keyFile, fi.Mode().Perm(), keyFile)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", certFile, err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA key %s: %w", keyFile, err)
	}
	b := &Backend{chain: chain, key: key}
	if err := ca.Check(ctx, b, now); err != nil {
		return nil, fmt.Errorf("CA %s: %w", certFile, err)
	}
	return b, nil
}

// Chain returns the CA certificate and its intermediates.
func (b *Backend) Chain(context.Context) ([]*x509.Certificate, error) { return b.chain, nil }

// Signer returns the CA key.
func (b *Backend) Signer(context.Context) (crypto.Signer, error) { return b.key, nil }

// Close does nothing: the key lives in memory.
func (b *Backend) Close() error { return nil }

func parseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("found a %q PEM block; the file must hold only CERTIFICATE blocks", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block found")
	}
	return chain, nil
}
