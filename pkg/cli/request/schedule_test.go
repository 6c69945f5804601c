package request

import (
	"context"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	testingclock "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/testkit"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDeadline(t *testing.T) {
	notBefore, notAfter := t0, t0.Add(100*time.Hour)
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{
		{0, 70 * time.Hour},
		{0.5, 80 * time.Hour},
		{0.999999, 90*time.Hour - 72*time.Millisecond},
	} {
		s := &Scheduler{Rand: func() float64 { return tc.r }, Window: KubeletWindow}
		if got := s.Deadline(notBefore, notAfter).Sub(notBefore); got != tc.want {
			t.Errorf("r=%v: deadline after %s, want %s", tc.r, got, tc.want)
		}
	}
	// With real randomness, always within 70-90 %, and spread over the window.
	s := &Scheduler{Rand: rand.New(rand.NewPCG(1, 2)).Float64, Window: KubeletWindow}
	var low, high bool
	for range 1000 {
		f := float64(s.Deadline(notBefore, notAfter).Sub(notBefore)) / float64(100*time.Hour)
		if f < 0.7 || f > 0.9 {
			t.Fatalf("deadline at %.3f of the lifetime, outside 0.7-0.9", f)
		}
		low, high = low || f < 0.72, high || f > 0.88
	}
	if !low || !high {
		t.Errorf("deadlines not spread over the window (reached low end %v, high end %v)", low, high)
	}
}

func TestBackoffDelay(t *testing.T) {
	var got, gotJittered []time.Duration
	for attempt := range 8 {
		got = append(got, KubeletBackoff.Delay(attempt, 0))
		gotJittered = append(gotJittered, KubeletBackoff.Delay(attempt, 1))
	}
	s := time.Second
	want := []time.Duration{2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 32 * s, 32 * s, 32 * s}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
	wantJittered := []time.Duration{2200 * time.Millisecond, 4400 * time.Millisecond, 8800 * time.Millisecond, 17600 * time.Millisecond, 35200 * time.Millisecond, 35200 * time.Millisecond, 35200 * time.Millisecond, 35200 * time.Millisecond}
	if diff := cmp.Diff(wantJittered, gotJittered); diff != "" {
		t.Errorf("delays with the most jitter (-want +got):\n%s", diff)
	}
	if d := KubeletBackoff.Delay(10000, 0); d != 32*s {
		t.Errorf("delay after many failures = %s, want 32s", d)
	}
}

func TestWindowValidate(t *testing.T) {
	for w, want := range map[Window]string{
		{0.7, 0.9}: "",
		{0, 0}:     "",
		{0.9, 0.7}: "renewal window 0.9,0.7: want two fractions of the lifetime, 0 ≤ min ≤ max ≤ 1",
		{0.5, 1.5}: "renewal window 0.5,1.5: want two fractions of the lifetime, 0 ≤ min ≤ max ≤ 1",
	} {
		if got := testkit.ErrString(w.Validate()); got != want {
			t.Errorf("%v: %q, want %q", w, got, want)
		}
	}
}

// fakeRotation is a certificate that renew replaces, for Scheduler.Run.
type fakeRotation struct {
	clock    *testingclock.FakeClock
	lifetime time.Duration
	cert     *x509.Certificate
	// results are what the successive renew calls return.
	results  []error
	attempts chan time.Time
}

func (f *fakeRotation) current() (*x509.Certificate, error) { return f.cert, nil }

func (f *fakeRotation) renew(context.Context) error {
	now := f.clock.Now()
	var err error
	if len(f.results) > 0 {
		err, f.results = f.results[0], f.results[1:]
	}
	if err == nil {
		f.cert = &x509.Certificate{NotBefore: now, NotAfter: now.Add(f.lifetime)}
	}
	f.attempts <- now
	return err
}

// step waits until Run waits on the clock, then moves the clock by d.
func step(t *testing.T, clk *testingclock.FakeClock, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clk.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the scheduler never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Step(d)
}

func runScheduler(t *testing.T, r float64, results ...error) (*fakeRotation, context.CancelFunc, <-chan error) {
	clk := testingclock.NewFakeClock(t0)
	f := &fakeRotation{
		clock:    clk,
		lifetime: 100 * time.Minute,
		cert:     &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(100 * time.Minute)},
		results:  results,
		attempts: make(chan time.Time, 10),
	}
	s := &Scheduler{Clock: clk, Rand: func() float64 { return r }, Window: KubeletWindow, Backoff: KubeletBackoff, Log: t.Logf}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, f.current, f.renew) }()
	return f, cancel, done
}

func expectAttempt(t *testing.T, f *fakeRotation, want time.Time) {
	t.Helper()
	select {
	case got := <-f.attempts:
		if !got.Equal(want) {
			t.Errorf("renewal attempt at %s, want %s", got.Sub(t0), want.Sub(t0))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no renewal attempt (want one at %s)", want.Sub(t0))
	}
}

func expectNoAttempt(t *testing.T, f *fakeRotation) {
	t.Helper()
	select {
	case got := <-f.attempts:
		t.Errorf("unexpected renewal attempt at %s", got.Sub(t0))
	case <-time.After(20 * time.Millisecond):
	}
}

// TestSchedulerRenewsTwiceInARow: each certificate is renewed at its own deadline (80 % of
// 100 minutes with Rand 0.5), counted from the new certificate's NotBefore.
func TestSchedulerRenewsTwiceInARow(t *testing.T) {
	f, cancel, done := runScheduler(t, 0.5)
	step(t, f.clock, 79*time.Minute)
	expectNoAttempt(t, f)
	step(t, f.clock, time.Minute)
	expectAttempt(t, f, t0.Add(80*time.Minute))
	step(t, f.clock, 80*time.Minute)
	expectAttempt(t, f, t0.Add(160*time.Minute))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
}

// TestSchedulerBacksOff: failures are retried after 2 s, 4 s, 8 s …; a success starts
// the next cycle. (Rand 0: deadlines at 70 %, no jitter.)
func TestSchedulerBacksOff(t *testing.T) {
	f, cancel, done := runScheduler(t, 0, errors.New("server unavailable"), errors.New("denied"), errors.New("timed out"))
	defer cancel()
	at := t0.Add(70 * time.Minute)
	step(t, f.clock, 70*time.Minute)
	expectAttempt(t, f, at)
	for _, delay := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
		step(t, f.clock, delay-time.Millisecond)
		expectNoAttempt(t, f)
		step(t, f.clock, time.Millisecond)
		at = at.Add(delay)
		expectAttempt(t, f, at)
	}
	// The fourth attempt succeeded: the next renewal is at 70 % of the new certificate.
	step(t, f.clock, 70*time.Minute)
	expectAttempt(t, f, at.Add(70*time.Minute))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestSchedulerStopsOnPermanentErrors(t *testing.T) {
	expired := errors.New("the certificate expired")
	f, cancel, done := runScheduler(t, 0.5, &PermanentError{Err: expired})
	defer cancel()
	step(t, f.clock, 80*time.Minute)
	expectAttempt(t, f, t0.Add(80*time.Minute))
	if err := <-done; err != expired {
		t.Errorf("Run = %v, want %v", err, expired)
	}
}
