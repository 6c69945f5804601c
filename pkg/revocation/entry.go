package revocation

import (
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Entry is one revoked certificate.
type Entry struct {
	// Serial is the certificate's serial number.
	Serial *big.Int
	// RevokedAt is when the certificate was revoked.
	RevokedAt time.Time
	// Reason is why; Unspecified leaves the reason out of CRLs and OCSP responses, as
	// RFC 5280 asks.
	Reason Reason
	// NotAfter is the certificate's own NotAfter: CRLs drop the entry once it has passed.
	// The zero time keeps the entry forever.
	NotAfter time.Time
}

// Validate reports the first problem of e: no serial or a negative one, no revocation
// time, or a reason that is not a revocation reason.
func (e Entry) Validate() error {
	switch {
	case e.Serial == nil:
		return errors.New("serial: missing; give the serial number of the revoked certificate")
	case e.Serial.Sign() < 0:
		return fmt.Errorf("serial: %s is negative; certificate serial numbers are positive (RFC 5280 §4.1.2.2)", e.Serial.Text(16))
	case e.RevokedAt.IsZero():
		return fmt.Errorf("revokedAt: missing for serial %s; give the time of the revocation", e.Serial.Text(16))
	case !e.Reason.valid():
		return fmt.Errorf("reason: %w %s for serial %s; use one of %s", ErrUnknownReason, e.Reason, e.Serial.Text(16), reasonList())
	}
	return nil
}

// expired reports whether the certificate of e has expired at now.
func (e Entry) expired(now time.Time) bool {
	return !e.NotAfter.IsZero() && e.NotAfter.Before(now)
}
