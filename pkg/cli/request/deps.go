package request

import (
	"crypto/rand"
	"io"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Deps are what `kcsr request` and `kcsr renew` talk to besides their flags: where they
// write (Out gets the progress lines, ErrOut the warnings), the clock, randomness and the
// API client. complete gives the real ones where tests have not set theirs.
type Deps struct {
	Out, ErrOut io.Writer
	Clock       clock.WithTicker
	Rand        io.Reader
	NewClient   func(*rest.Config) (kubernetes.Interface, error)
}

func (d *Deps) complete() {
	if d.Clock == nil {
		d.Clock = clock.RealClock{}
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.NewClient == nil {
		d.NewClient = func(cfg *rest.Config) (kubernetes.Interface, error) { return kubernetes.NewForConfig(cfg) }
	}
	if d.ErrOut == nil {
		d.ErrOut = io.Discard
	}
}

// obtainer returns the Obtainer of these dependencies for client, waiting up to wait and
// verifying against roots.
func (d *Deps) obtainer(client kubernetes.Interface, roots []byte, wait time.Duration) *Obtainer {
	return &Obtainer{
		CSRs:     client.CertificatesV1().CertificateSigningRequests(),
		Roots:    roots,
		Wait:     wait,
		Clock:    d.Clock,
		Rand:     d.Rand,
		Progress: NewProgress(d.Out, d.Clock),
		ErrOut:   d.ErrOut,
	}
}
