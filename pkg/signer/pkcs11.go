package signer

import (
	"context"
	"errors"
	"time"

	"kcsr.dev/kcsr/pkg/ca"
)

// openPKCS11 opens a CA key held in an HSM.
func openPKCS11(_ context.Context, _ *PKCS11Spec, _ time.Time) (ca.Backend, error) {
	return nil, errors.New("pkcs11: the PKCS#11 backend is not available in this build")
}
