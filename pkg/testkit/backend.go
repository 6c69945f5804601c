package testkit

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"sync/atomic"
	"testing"

	"kcsr.dev/kcsr/pkg/ca"
)

// Backend returns an in-memory ca.Backend for c, whose Chain leaves the root out as
// backends do.
func (c *CA) Backend() *Static { return &Static{ChainCerts: ca.TrimRoot(c.Chain), Key: c.Key} }

// Static is an in-memory ca.Backend.
type Static struct {
	ChainCerts []*x509.Certificate
	Key        crypto.Signer
	// ChainErr and SignerErr, when set, are returned by Chain and Signer.
	ChainErr, SignerErr error
	closed              atomic.Int32
}

var _ ca.Backend = (*Static)(nil)

// Chain returns s.ChainCerts.
func (s *Static) Chain(context.Context) ([]*x509.Certificate, error) {
	return s.ChainCerts, s.ChainErr
}

// Signer returns s.Key.
func (s *Static) Signer(context.Context) (crypto.Signer, error) {
	if s.SignerErr != nil {
		return nil, s.SignerErr
	}
	return s.Key, nil
}

// Close counts the calls; see Closed.
func (s *Static) Close() error {
	s.closed.Add(1)
	return nil
}

// Closed reports how many times Close was called.
func (s *Static) Closed() int { return int(s.closed.Load()) }

// ExpectClosed closes b twice, both of which must succeed, and checks that Signer and
// Chain then fail with ca.ErrClosed: the contract every backend keeps.
func ExpectClosed(t testing.TB, b ca.Backend) {
	t.Helper()
	NoError(t, b.Close(), "Close()")
	NoError(t, b.Close(), "second Close()")
	if _, err := b.Signer(context.Background()); !errors.Is(err, ca.ErrClosed) {
		t.Errorf("Signer() after Close() = %v, want %v", err, ca.ErrClosed)
	}
	if _, err := b.Chain(context.Background()); !errors.Is(err, ca.ErrClosed) {
		t.Errorf("Chain() after Close() = %v, want %v", err, ca.ErrClosed)
	}
}
