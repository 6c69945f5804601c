package pkcs11

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"sync"
	"sync/atomic"

	"kcsr.dev/kcsr/pkg/ca"
)

// Backend is a CA whose key is on a PKCS#11 token. It is safe for concurrent use: each
// signature takes a session from crypto11's pool.
type Backend struct {
	chain  []*x509.Certificate
	signer crypto.Signer
	// closeFn releases the token sessions and the module.
	closeFn   func() error
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ ca.Backend = (*Backend)(nil)

// Chain returns the CA certificate, then its issuers without the root.
func (b *Backend) Chain(context.Context) ([]*x509.Certificate, error) {
	if b.closed.Load() {
		return nil, ca.ErrClosed
	}
	return b.chain, nil
}

// Signer returns a crypto.Signer for the key on the token. Its Sign fails with ctx's error
// once ctx is done, before it reaches the token (a signature already on its way to the
// token cannot be interrupted).
func (b *Backend) Signer(ctx context.Context) (crypto.Signer, error) {
	if b.closed.Load() {
		return nil, ca.ErrClosed
	}
	return ctxSigner{ctx: ctx, backend: b}, nil
}

// Close logs out, closes the sessions and unloads the module when no other Backend uses
// it. It waits for signatures in progress. It is safe to call twice.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		if b.closeFn != nil {
			b.closeErr = b.closeFn()
		}
	})
	return b.closeErr
}

// ctxSigner binds the token's signer to a context.
type ctxSigner struct {
	ctx     context.Context
	backend *Backend
}

func (s ctxSigner) Public() crypto.PublicKey { return s.backend.signer.Public() }

func (s ctxSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := s.ctx.Err(); err != nil {
		return nil, err
	}
	if s.backend.closed.Load() {
		return nil, ca.ErrClosed
	}
	return s.backend.signer.Sign(rand, digest, opts)
}
