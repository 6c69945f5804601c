package signer

import (
	"context"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
	capkcs11 "kcsr.dev/kcsr/pkg/ca/pkcs11"
)

// openPKCS11 opens a CA key held in an HSM.
func openPKCS11(ctx context.Context, s *PKCS11Spec, now time.Time) (ca.Backend, error) {
	b, err := capkcs11.New(ctx, capkcs11.Config{ModulePath: s.ModulePath, URI: s.URI, CertFile: s.CertFile}, now)
	if err != nil {
		return nil, err
	}
	return b, nil
}
