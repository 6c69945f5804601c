package request

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"time"

	"k8s.io/utils/clock"
)

// Window is where in a certificate's lifetime it is renewed, as fractions of the lifetime
// counted from NotBefore.
type Window struct{ Min, Max float64 }

// KubeletWindow is the kubelet's: a uniformly random point between 70 % and 90 % of the
// lifetime (its jitteryDuration).
var KubeletWindow = Window{Min: 0.7, Max: 0.9}

// Validate refuses fractions outside 0 ≤ Min ≤ Max ≤ 1.
func (w Window) Validate() error {
	if !(0 <= w.Min && w.Min <= w.Max && w.Max <= 1) {
		return fmt.Errorf("renewal window %g,%g: want two fractions of the lifetime, 0 ≤ min ≤ max ≤ 1", w.Min, w.Max)
	}
	return nil
}

// Backoff spaces out retries: Initial, multiplied by Factor after each failure up to Max,
// each delay lengthened by up to Jitter of itself.
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Max     time.Duration
	Jitter  float64
}

// KubeletBackoff is the kubelet's certificate manager's: 2 s, 4 s, 8 s, 16 s, 32 s, then
// every 32 s, each up to 10 % longer.
var KubeletBackoff = Backoff{Initial: 2 * time.Second, Factor: 2, Max: 32 * time.Second, Jitter: 0.1}

// Delay is the wait after the failed attempt number attempt (0 for the first), for a
// random r in [0, 1).
func (b Backoff) Delay(attempt int, r float64) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Factor, float64(attempt))
	if d > float64(b.Max) || math.IsInf(d, 0) {
		d = float64(b.Max)
	}
	return time.Duration(d * (1 + b.Jitter*r))
}

// PermanentError is a renewal error that retrying cannot fix (the certificate that
// authenticates the renewal has expired); it ends Scheduler.Run.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Scheduler renews a certificate again and again, the way the kubelet's certificate
// manager rotates its own: at Deadline, with Backoff between failed attempts, never
// giving up on errors that may pass.
type Scheduler struct {
	Clock clock.Clock
	// Rand returns uniformly random numbers in [0, 1).
	Rand    func() float64
	Window  Window
	Backoff Backoff
	// Log receives a line for each decision; nil discards them.
	Log func(format string, args ...any)
}

// Deadline is when to renew a certificate valid from notBefore to notAfter: a random point
// of the window.
func (s *Scheduler) Deadline(notBefore, notAfter time.Time) time.Time {
	f := s.Window.Min + (s.Window.Max-s.Window.Min)*s.Rand()
	return notBefore.Add(time.Duration(math.Round(f * float64(notAfter.Sub(notBefore)))))
}

// Run reads the current certificate, waits until its deadline, calls renew until it
// succeeds (waiting Backoff between failures), and starts over with the new certificate.
// It returns nil when ctx ends, and the error of current or a *PermanentError of renew.
func (s *Scheduler) Run(ctx context.Context, current func() (*x509.Certificate, error), renew func(context.Context) error) error {
	for {
		cert, err := current()
		if err != nil {
			return err
		}
		deadline := s.Deadline(cert.NotBefore, cert.NotAfter)
		if wait := deadline.Sub(s.Clock.Now()); wait > 0 {
			s.log("next renewal at %s, in %s (the certificate expires at %s)", deadline.UTC().Format(time.RFC3339), wait.Round(time.Second), cert.NotAfter.UTC().Format(time.RFC3339))
			if !s.sleep(ctx, wait) {
				return nil
			}
		}
		for attempt := 0; ; attempt++ {
			err := renew(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			var permanent *PermanentError
			if errors.As(err, &permanent) {
				return permanent.Err
			}
			delay := s.Backoff.Delay(attempt, s.Rand())
			s.log("renewal failed: %s; retrying in %s", errorText(err), delay.Round(100*time.Millisecond))
			if !s.sleep(ctx, delay) {
				return nil
			}
		}
	}
}

// sleep waits d and reports whether ctx is still alive.
func (s *Scheduler) sleep(ctx context.Context, d time.Duration) bool {
	t := s.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (s *Scheduler) log(format string, args ...any) {
	if s.Log != nil {
		s.Log(format, args...)
	}
}
