package revocation

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
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

// clone returns e with a serial of its own.
func (e Entry) clone() Entry {
	e.Serial = new(big.Int).Set(e.Serial)
	return e
}

// Set is the revoked certificates of one CA, keyed by serial number. The zero Set is
// empty and ready to use; a Set is safe for concurrent use. Entries going in and coming
// out are copies: callers may keep and change theirs.
type Set struct {
	mu      sync.RWMutex
	entries map[string]Entry // by string(serial.Bytes())
}

func key(serial *big.Int) string { return string(serial.Bytes()) }

// Put adds e, or replaces the entry of the same serial (a certificate on hold revoked for
// good, say). It refuses an entry Validate refuses.
func (s *Set) Put(e Entry) error {
	if err := e.Validate(); err != nil {
		return err
	}
	e = e.clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.entries == nil {
		s.entries = make(map[string]Entry)
	}
	s.entries[key(e.Serial)] = e
	return nil
}

// Delete removes the entry of serial, as releasing a certificateHold does, and reports
// whether there was one.
func (s *Set) Delete(serial *big.Int) bool {
	if serial == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(serial)
	_, ok := s.entries[k]
	delete(s.entries, k)
	return ok
}

// Get returns the entry of serial, if it is revoked.
func (s *Set) Get(serial *big.Int) (Entry, bool) {
	if serial == nil || serial.Sign() < 0 {
		return Entry{}, false
	}
	s.mu.RLock()
	e, ok := s.entries[key(serial)]
	s.mu.RUnlock()
	if !ok {
		return Entry{}, false
	}
	return e.clone(), true
}

// Len returns the number of entries.
func (s *Set) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Snapshot returns a copy of every entry, ordered by serial number: the input of
// Authority.CRL.
func (s *Set) Snapshot() []Entry {
	s.mu.RLock()
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	// Keys are big-endian magnitudes without leading zeros: shorter is smaller, and
	// among equals the bytes order them. Strings sort much faster than big.Ints.
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
	out := make([]Entry, len(keys))
	for i, k := range keys {
		out[i] = s.entries[k].clone()
	}
	s.mu.RUnlock()
	return out
}
