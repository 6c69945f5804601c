//go:build !cgo

package pkcs11

import (
	"context"
	"time"
)

// New fails: PKCS#11 modules are C libraries, and this build has no cgo.
func New(ctx context.Context, cfg Config, now time.Time) (*Backend, error) {
	return nil, errNoCgo
}
