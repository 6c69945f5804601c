package revocation_test

import (
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// entry builds a valid Entry of serial revoked at testkit.Epoch for keyCompromise.
func entry(serial int64, mutate ...func(*revocation.Entry)) revocation.Entry {
	e := revocation.Entry{
		Serial:    big.NewInt(serial),
		RevokedAt: testkit.Epoch,
		Reason:    revocation.KeyCompromise,
		NotAfter:  testkit.Epoch.Add(24 * time.Hour),
	}
	for _, m := range mutate {
		m(&e)
	}
	return e
}

func TestEntryValidate(t *testing.T) {
	tests := []struct {
		name       string
		entry      revocation.Entry
		wantErr    string
		wantReason bool // errors.Is ErrUnknownReason
	}{
		{name: "valid", entry: entry(0x1f)},
		{name: "serial zero", entry: entry(0)},
		{name: "no NotAfter", entry: entry(1, func(e *revocation.Entry) { e.NotAfter = time.Time{} })},
		{name: "every revocation reason", entry: entry(1, func(e *revocation.Entry) { e.Reason = revocation.AACompromise })},
		{name: "no serial", entry: entry(1, func(e *revocation.Entry) { e.Serial = nil }), wantErr: "serial: missing; give the serial number of the revoked certificate"},
		{name: "negative serial", entry: entry(-0x1f), wantErr: "serial: -1f is negative; certificate serial numbers are positive (RFC 5280 §4.1.2.2)"},
		{name: "no revocation time", entry: entry(0x1f, func(e *revocation.Entry) { e.RevokedAt = time.Time{} }), wantErr: "revokedAt: missing for serial 1f; give the time of the revocation"},
		{
			name: "unused reason code 7", entry: entry(0x1f, func(e *revocation.Entry) { e.Reason = 7 }), wantReason: true,
			wantErr: "reason: unknown revocation reason Reason(7) for serial 1f; use one of " + validReasons,
		},
		{
			name: "removeFromCRL", entry: entry(0x1f, func(e *revocation.Entry) { e.Reason = revocation.RemoveFromCRL }), wantReason: true,
			wantErr: "reason: unknown revocation reason removeFromCRL for serial 1f; use one of " + validReasons,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.entry.Validate()
			if diff := cmp.Diff(tt.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, revocation.ErrUnknownReason); got != tt.wantReason {
				t.Errorf("errors.Is(err, ErrUnknownReason) = %v, want %v", got, tt.wantReason)
			}
		})
	}
}

// revoked is a test's revocations of one CA by serial, for an OCSP lookup.
type revoked map[string]revocation.Entry

func (r revoked) put(t testing.TB, e revocation.Entry) {
	t.Helper()
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	r[e.Serial.Text(16)] = e
}

func (r revoked) get(serial *big.Int) (revocation.Entry, bool) {
	e, ok := r[serial.Text(16)]
	return e, ok
}

// sorted returns the entries in serial order, as the publisher hands them to
// Authority.CRL.
func (r revoked) sorted() []revocation.Entry {
	out := make([]revocation.Entry, 0, len(r))
	for _, e := range r {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b revocation.Entry) int { return a.Serial.Cmp(b.Serial) })
	return out
}

var bigIntEqual = cmp.Comparer(func(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
})
