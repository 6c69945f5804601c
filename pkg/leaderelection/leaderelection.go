// Package leaderelection runs work on one replica at a time: it wraps client-go's leader
// election on a coordination.k8s.io/v1 Lease (resourcelock.LeaseLock), with
// kube-controller-manager's timings by default, the lease released on shutdown, and the
// kcsr_leader_is_leader gauge.
//
// It works against any Kubernetes-compatible API serving Leases (kcsr server or
// kube-apiserver) through a kubernetes.Interface, and knows nothing of what it guards: the
// caller passes the work as a function of a context that ends when leadership does.
package leaderelection

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"kcsr.dev/kcsr/pkg/metrics"
)

// Default timings, kube-controller-manager's.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Config says which Lease to contend for, as whom, and how fast.
type Config struct {
	// Client reads and writes the Lease.
	Client kubernetes.Interface
	// Namespace and Name locate the Lease; it is created when missing.
	Namespace, Name string
	// Identity names this candidate in spec.holderIdentity; it must differ between
	// replicas (see NewIdentity).
	Identity string
	// LeaseDuration is how long followers wait after the last renewal seen before taking
	// over; RenewDeadline how long the leader keeps retrying a renewal before it gives up
	// leadership; RetryPeriod the interval between attempts. Zero means the default.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// withDefaults fills in zero timings.
func (c Config) withDefaults() Config {
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = DefaultRenewDeadline
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = DefaultRetryPeriod
	}
	return c
}

// Validate returns every problem with c (zero timings stand for the defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Client == nil {
		errs = append(errs, errors.New("leader election: a client is required"))
	}
	if c.Namespace == "" || c.Name == "" {
		errs = append(errs, fmt.Errorf("leader election: the lease needs a namespace and a name, got %q/%q", c.Namespace, c.Name))
	}
	if c.Identity == "" {
		errs = append(errs, errors.New("leader election: the identity must not be empty"))
	}
	for _, err := range validateTimings(c.LeaseDuration, c.RenewDeadline, c.RetryPeriod, [3]string{"the lease duration", "the renew deadline", "the retry period"}) {
		errs = append(errs, fmt.Errorf("leader election: %w", err))
	}
	return errors.Join(errs...)
}

// validateTimings checks what client-go's elector requires, and that the lease duration
// survives the Lease's whole seconds; names are how to call each value in messages.
func validateTimings(leaseDuration, renewDeadline, retryPeriod time.Duration, names [3]string) []error {
	var errs []error
	if leaseDuration < time.Second {
		errs = append(errs, fmt.Errorf("%s (%s) must be at least 1s; a Lease holds whole seconds", names[0], leaseDuration))
	}
	if leaseDuration <= renewDeadline {
		errs = append(errs, fmt.Errorf("%s (%s) must be greater than %s (%s)", names[0], leaseDuration, names[1], renewDeadline))
	}
	if retryPeriod <= 0 {
		errs = append(errs, fmt.Errorf("%s (%s) must be positive", names[2], retryPeriod))
	} else if minimum := time.Duration(leaderelection.JitterFactor * float64(retryPeriod)); renewDeadline <= minimum {
		errs = append(errs, fmt.Errorf("%s (%s) must be greater than %.1f × %s (%s)", names[1], renewDeadline, leaderelection.JitterFactor, names[2], minimum))
	}
	return errs
}

// Lease is "<namespace>/<name>", the value of the metric's lease label.
func (c Config) Lease() string { return c.Namespace + "/" + c.Name }

// NewIdentity returns a candidate identity as kube-controller-manager makes one: the host
// name, "_", and a random UUID, so replicas on one host, and a restarted process, differ.
func NewIdentity() (string, error) {
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("leader election identity: %w", err)
	}
	return host + "_" + string(uuid.NewUUID()), nil
}

// Run contends for the Lease until ctx is done. Each time this candidate becomes leader it
// calls run with a context that is cancelled when leadership is lost or ctx is done; run
// must return promptly then. After a loss Run contends again, so run may be called several
// times, never concurrently.
//
// When ctx is done Run waits for run to return, then releases the Lease (a follower takes
// over at its next retry instead of waiting out the lease duration) and returns nil. It
// returns an error only for an invalid configuration.
func Run(ctx context.Context, cfg Config, run func(ctx context.Context)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	metrics.RegisterLeader()
	isLeader := metrics.LeaderIsLeader.WithLabelValues(cfg.Lease())
	isLeader.Set(0)
	logger := klog.FromContext(ctx).WithValues("lease", cfg.Lease(), "identity", cfg.Identity)
	ctx = klog.NewContext(ctx, logger)
	for ctx.Err() == nil {
		if err := term(ctx, cfg, func(leading bool) {
			if leading {
				isLeader.Set(1)
			} else {
				isLeader.Set(0)
			}
		}, run); err != nil {
			return err
		}
		if ctx.Err() == nil {
			logger.Info("Lost the lease; contending again")
		}
	}
	return nil
}

// term contends for the Lease once: it returns when ctx is done (the Lease released) or
// when leadership, once held, is lost; run has returned by then.
func term(ctx context.Context, cfg Config, setLeader func(bool), run func(ctx context.Context)) error {
	logger := klog.FromContext(ctx)
	// The elector runs on its own context, cancelled only once run has returned: the
	// Lease is renewed, and so still ours, until the work it guards has stopped.
	electCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()

	var (
		mu       sync.Mutex
		leading  bool // run was called
		stopping bool // ctx is done or leadership over: run must not start
	)
	runDone := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
			Client:     cfg.Client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
		},
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            cfg.Lease(),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leaderCtx context.Context) {
				defer close(runDone)
				mu.Lock()
				if stopping {
					mu.Unlock()
					return
				}
				leading = true
				mu.Unlock()

				runCtx, cancel := context.WithCancel(klog.NewContext(leaderCtx, logger))
				defer cancel()
				defer context.AfterFunc(ctx, cancel)()
				logger.Info("Became leader")
				setLeader(true)
				defer setLeader(false)
				run(runCtx)
			},
			OnStoppedLeading: func() { setLeader(false) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}

	// stopRun makes sure run cannot start any more and waits for a run in progress.
	stopRun := func() {
		mu.Lock()
		stopping = true
		wasLeading := leading
		mu.Unlock()
		if wasLeading {
			<-runDone
		}
	}

	// When ctx is done: if leading, wait for run to return, then stop the election,
	// which releases the Lease.
	go func() {
		select {
		case <-ctx.Done():
		case <-electCtx.Done():
			return
		}
		stopRun()
		stopElection()
	}()

	elector.Run(electCtx) // returns once leadership is lost, or electCtx is done
	// OnStartedLeading runs in its own goroutine and may not have begun yet: make sure it
	// cannot start run now, then wait for a run in progress.
	stopRun()
	if ctx.Err() != nil {
		logger.Info("Stopped leader election")
	}
	return nil
}
