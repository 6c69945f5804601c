package revocation_test

import (
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"kcsr.dev/kcsr/pkg/ca/catest"
	"kcsr.dev/kcsr/pkg/revocation"
)

// entry builds a valid Entry of serial revoked at catest.Epoch for keyCompromise.
func entry(serial int64, mutate ...func(*revocation.Entry)) revocation.Entry {
	e := revocation.Entry{
		Serial:    big.NewInt(serial),
		RevokedAt: catest.Epoch,
		Reason:    revocation.KeyCompromise,
		NotAfter:  catest.Epoch.Add(24 * time.Hour),
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
			if diff := cmp.Diff(tt.wantErr, errString(err)); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, revocation.ErrUnknownReason); got != tt.wantReason {
				t.Errorf("errors.Is(err, ErrUnknownReason) = %v, want %v", got, tt.wantReason)
			}
			var s revocation.Set
			if err := s.Put(tt.entry); errString(err) != tt.wantErr {
				t.Errorf("Put: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSet(t *testing.T) {
	type op struct {
		put    *revocation.Entry
		delete int64
	}
	put := func(e revocation.Entry) op { return op{put: &e} }
	del := func(serial int64) op { return op{delete: serial} }
	held := entry(2, func(e *revocation.Entry) { e.Reason = revocation.CertificateHold })
	tests := []struct {
		name string
		ops  []op
		want []revocation.Entry // Snapshot
	}{
		{name: "empty"},
		{name: "one", ops: []op{put(entry(5))}, want: []revocation.Entry{entry(5)}},
		{name: "ordered by serial", ops: []op{put(entry(300)), put(entry(5)), put(entry(0x10000)), put(entry(0))}, want: []revocation.Entry{entry(0), entry(5), entry(300), entry(0x10000)}},
		{name: "a hold released", ops: []op{put(entry(1)), put(held), del(2)}, want: []revocation.Entry{entry(1)}},
		{name: "a hold made final", ops: []op{put(held), put(entry(2))}, want: []revocation.Entry{entry(2)}},
		{name: "deleting an absent serial", ops: []op{put(entry(1)), del(3)}, want: []revocation.Entry{entry(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s revocation.Set
			for _, o := range tt.ops {
				if o.put != nil {
					if err := s.Put(*o.put); err != nil {
						t.Fatal(err)
					}
					continue
				}
				_, had := s.Get(big.NewInt(o.delete))
				if got := s.Delete(big.NewInt(o.delete)); got != had {
					t.Errorf("Delete(%d) = %v, want %v", o.delete, got, had)
				}
			}
			got := s.Snapshot()
			if diff := cmp.Diff(tt.want, got, bigIntEqual, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Snapshot (-want +got):\n%s", diff)
			}
			if s.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", s.Len(), len(tt.want))
			}
			for _, w := range tt.want {
				if e, ok := s.Get(w.Serial); !ok || e.Reason != w.Reason || e.Serial.Cmp(w.Serial) != 0 {
					t.Errorf("Get(%s) = %+v, %v; want %+v", w.Serial, e, ok, w)
				}
			}
		})
	}
}

func TestSetGetAbsent(t *testing.T) {
	var s revocation.Set
	if err := s.Put(entry(1)); err != nil {
		t.Fatal(err)
	}
	for _, serial := range []*big.Int{nil, big.NewInt(-1), big.NewInt(2), big.NewInt(0)} {
		if e, ok := s.Get(serial); ok {
			t.Errorf("Get(%v) = %+v, want none", serial, e)
		}
	}
	if s.Delete(nil) {
		t.Error("Delete(nil) = true")
	}
}

// The Set keeps copies: what callers do with their serials does not reach it.
func TestSetCopies(t *testing.T) {
	var s revocation.Set
	e := entry(1)
	if err := s.Put(e); err != nil {
		t.Fatal(err)
	}
	e.Serial.SetInt64(99)
	got, ok := s.Get(big.NewInt(1))
	if !ok {
		t.Fatal("Get(1) after the caller changed its serial: none")
	}
	got.Serial.SetInt64(98)
	s.Snapshot()[0].Serial.SetInt64(97)
	if snap := s.Snapshot(); snap[0].Serial.Int64() != 1 {
		t.Errorf("the stored serial became %s", snap[0].Serial)
	}
}

func TestSetConcurrent(t *testing.T) {
	var (
		s  revocation.Set
		wg sync.WaitGroup
	)
	const workers, each = 4, 200
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				serial := int64(w*each + i)
				if err := s.Put(entry(serial)); err != nil {
					t.Error(err)
					return
				}
				s.Get(big.NewInt(serial))
				s.Len()
				if i%2 == 1 {
					s.Delete(big.NewInt(serial))
				}
				if i%50 == 0 {
					s.Snapshot()
				}
			}
		}()
	}
	wg.Wait()
	if got, want := s.Len(), workers*each/2; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
}

var bigIntEqual = cmp.Comparer(func(a, b *big.Int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Cmp(b) == 0
})
