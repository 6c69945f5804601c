// Package file is the CA backend whose key is a PEM file on disk: the cluster CA of `kcsr
// server` by default, and any CA a signer configuration names by certFile and keyFile.
//
// The key may be RSA, ECDSA or Ed25519, in PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE
// KEY", optionally after the "EC PARAMETERS" block `openssl ecparam -genkey` writes) or
// PKCS#1 ("RSA PRIVATE KEY") form, unencrypted. A key file readable by group or others is
// refused. The certificate file holds the CA certificate, optionally followed by the
// certificates that issued it, root included or not (kube-controller-manager refuses such
// chains; kcsr accepts them so that an intermediate CA can sign; Chain leaves the root out).
// Load runs ca.Check on the whole file, so a Backend it returns is a usable CA.
//
// The key is read once; the files are not watched.
package file

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
)

// Backend is a CA whose key was loaded from a file. It is safe for concurrent use.
type Backend struct {
	chain  []*x509.Certificate
	key    crypto.Signer
	closed atomic.Bool
}

var _ ca.Backend = (*Backend)(nil)

// Load reads the CA certificate (and any issuers after it) from certFile and its key from
// keyFile, and checks them with ca.Check at now. Errors name the file and what to change.
func Load(ctx context.Context, certFile, keyFile string, now time.Time) (*Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read the CA certificate: %w", err)
	}
	chain, err := pemutil.ParseCertificates(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate file %s: %w", certFile, err)
	}
	keyPEM, err := readKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := pemutil.ParseKey(keyPEM)
	if errors.Is(err, pemutil.ErrEncryptedKey) {
		err = fmt.Errorf("%w, or keep it in an HSM with the pkcs11 backend", err)
	}
	if err != nil {
		return nil, fmt.Errorf("CA key file %s: %w", keyFile, err)
	}
	b := &Backend{chain: chain, key: key}
	if err := ca.Check(ctx, b, now); err != nil {
		return nil, fmt.Errorf("CA %s with key %s: %w", certFile, keyFile, err)
	}
	b.chain = ca.TrimRoot(chain)
	return b, nil
}

// Chain returns the CA certificate, then its issuers without the root.
func (b *Backend) Chain(context.Context) ([]*x509.Certificate, error) {
	if b.closed.Load() {
		return nil, ca.ErrClosed
	}
	return b.chain, nil
}

// Signer returns the CA key.
func (b *Backend) Signer(context.Context) (crypto.Signer, error) {
	if b.closed.Load() {
		return nil, ca.ErrClosed
	}
	return b.key, nil
}

// Close makes the backend unusable. It is safe to call twice.
func (b *Backend) Close() error {
	b.closed.Store(true)
	return nil
}

// readKeyFile reads a private key file that group and others cannot read. The mode is
// checked on the open file, so the file checked is the file read.
func readKeyFile(keyFile string) ([]byte, error) {
	f, err := os.Open(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read the CA key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read the CA key: %w", err)
	}
	if err := pki.CheckSecretFileMode("CA key file", keyFile, fi.Mode()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read the CA key: %w", err)
	}
	return data, nil
}
