package leaderelection

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/component-base/metrics/testutil"

	"kcsr.dev/kcsr/pkg/metrics"
)

// fastConfig is a Config with timings short enough for tests (a Lease holds whole seconds,
// so the lease duration cannot go below 1s).
func fastConfig(client kubernetes.Interface, name, identity string) Config {
	return Config{
		Client: client, Namespace: "kube-system", Name: name, Identity: identity,
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond,
	}
}

// candidate is one Run in the background.
type candidate struct {
	cancel context.CancelFunc
	// terms receives the context of each call of run.
	terms chan context.Context
	done  chan error
}

func start(cfg Config) *candidate {
	ctx, cancel := context.WithCancel(context.Background())
	c := &candidate{cancel: cancel, terms: make(chan context.Context, 10), done: make(chan error, 1)}
	go func() {
		c.done <- Run(ctx, cfg, func(ctx context.Context) {
			c.terms <- ctx
			<-ctx.Done()
		})
	}()
	return c
}

// stop cancels Run and waits for it to return.
func (c *candidate) stop(t *testing.T) {
	t.Helper()
	c.cancel()
	select {
	case err := <-c.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancellation")
	}
}

func waitTerm(t *testing.T, c *candidate, within time.Duration) context.Context {
	t.Helper()
	select {
	case ctx := <-c.terms:
		return ctx
	case <-time.After(within):
		t.Fatalf("not leader within %s", within)
		return nil
	}
}

func waitDone(t *testing.T, ctx context.Context, within time.Duration, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(within):
		t.Fatalf("%s: run's context still live after %s", what, within)
	}
}

func holder(t *testing.T, client kubernetes.Interface, name string) *coordinationv1.LeaseSpec {
	t.Helper()
	lease, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &lease.Spec
}

func isLeader(t *testing.T, cfg Config) float64 {
	t.Helper()
	v, err := testutil.GetGaugeMetricValue(metrics.LeaderIsLeader.WithLabelValues(cfg.Lease()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A lone candidate takes a fresh Lease at once, and gives it back when stopped.
func TestRunAcquiresAndReleases(t *testing.T) {
	client := fake.NewClientset()
	cfg := fastConfig(client, "lone", "host-a_1")
	c := start(cfg)
	ctx := waitTerm(t, c, time.Second)

	spec := holder(t, client, "lone")
	if got := *spec.HolderIdentity; got != "host-a_1" {
		t.Errorf("holderIdentity = %q, want host-a_1", got)
	}
	if got := *spec.LeaseDurationSeconds; got != 2 {
		t.Errorf("leaseDurationSeconds = %d, want 2", got)
	}
	if got := isLeader(t, cfg); got != 1 {
		t.Errorf("kcsr_leader_is_leader = %v while leading, want 1", got)
	}

	c.stop(t)
	if ctx.Err() == nil {
		t.Error("run's context is still live after Run returned")
	}
	if got := *holder(t, client, "lone").HolderIdentity; got != "" {
		t.Errorf("holderIdentity = %q after stop, want the lease released", got)
	}
	if got := isLeader(t, cfg); got != 0 {
		t.Errorf("kcsr_leader_is_leader = %v after stop, want 0", got)
	}
}

// Of two candidates one leads; when it stops, the other takes over at its next retry,
// without waiting out the lease duration.
func TestFollowerTakesOverOnRelease(t *testing.T) {
	client := fake.NewClientset()
	a := start(fastConfig(client, "pair", "host-a_1"))
	waitTerm(t, a, time.Second)
	b := start(fastConfig(client, "pair", "host-b_2"))
	defer b.stop(t)
	select {
	case <-b.terms:
		t.Fatal("the second candidate leads while the first holds the lease")
	case <-time.After(500 * time.Millisecond):
	}

	stopped := time.Now()
	a.stop(t)
	waitTerm(t, b, time.Second) // lease duration is 2s: a release is what makes this fast
	t.Logf("took over %s after the leader stopped", time.Since(stopped).Round(time.Millisecond))
	spec := holder(t, client, "pair")
	if diff := cmp.Diff([]any{"host-b_2", int32(1)}, []any{*spec.HolderIdentity, *spec.LeaseTransitions}); diff != "" {
		t.Errorf("holder, transitions (-want +got):\n%s", diff)
	}
}

// A leader that cannot renew loses leadership within the renew deadline: run's context
// ends, and once the API works again the candidate leads again; two runs never overlap.
func TestLostLeadershipCancelsRun(t *testing.T) {
	client := fake.NewClientset()
	var failing atomic.Bool
	client.PrependReactor("update", "leases", func(clienttesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		return false, nil, nil
	})
	cfg := fastConfig(client, "flaky", "host-a_1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	terms := make(chan context.Context, 10)
	var running, overlaps atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, func(ctx context.Context) {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer running.Add(-1)
			terms <- ctx
			<-ctx.Done()
			time.Sleep(50 * time.Millisecond) // winding down
		})
	}()
	first := <-terms

	failing.Store(true)
	waitDone(t, first, cfg.RenewDeadline+time.Second, "renewals failing")
	time.Sleep(100 * time.Millisecond)
	if got := isLeader(t, cfg); got != 0 {
		t.Errorf("kcsr_leader_is_leader = %v after losing the lease, want 0", got)
	}

	failing.Store(false)
	select {
	case second := <-terms:
		if second.Err() != nil {
			t.Errorf("the second term started with a cancelled context")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("not leader again within 3s of the API recovering")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if n := overlaps.Load(); n != 0 {
		t.Errorf("run was called %d times while a previous call was still running", n)
	}
}

// Cancelling before the Lease is won returns without calling run.
func TestCancelWhileFollowing(t *testing.T) {
	client := fake.NewClientset()
	a := start(fastConfig(client, "busy", "host-a_1"))
	defer a.stop(t)
	waitTerm(t, a, time.Second)
	b := start(fastConfig(client, "busy", "host-b_2"))
	time.Sleep(200 * time.Millisecond)
	b.stop(t)
	select {
	case <-b.terms:
		t.Error("the follower ran")
	default:
	}
	if got := *holder(t, client, "busy").HolderIdentity; got != "host-a_1" {
		t.Errorf("a follower's stop changed the holder to %q", got)
	}
}

func TestValidate(t *testing.T) {
	client := fake.NewClientset()
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{name: "valid", modify: func(*Config) {}},
		{name: "defaults", modify: func(c *Config) { c.LeaseDuration, c.RenewDeadline, c.RetryPeriod = 0, 0, 0 }},
		{
			name:   "no client",
			modify: func(c *Config) { c.Client = nil },
			want:   []string{"leader election: a client is required"},
		},
		{
			name:   "no name or identity",
			modify: func(c *Config) { c.Name, c.Identity = "", "" },
			want:   []string{`leader election: the lease needs a namespace and a name, got "kube-system"/""`, "leader election: the identity must not be empty"},
		},
		{
			name:   "renew deadline not below the lease duration",
			modify: func(c *Config) { c.LeaseDuration, c.RenewDeadline = 10*time.Second, 10*time.Second },
			want:   []string{"leader election: the lease duration (10s) must be greater than the renew deadline (10s)"},
		},
		{
			name:   "retry period too long for the renew deadline",
			modify: func(c *Config) { c.RetryPeriod = 9 * time.Second },
			want:   []string{"leader election: the renew deadline (10s) must be greater than 1.2 × the retry period (10.8s)"},
		},
		{
			name: "sub-second lease",
			modify: func(c *Config) {
				c.LeaseDuration, c.RenewDeadline, c.RetryPeriod = 500*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
			},
			want: []string{"leader election: the lease duration (500ms) must be at least 1s; a Lease holds whole seconds"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Client: client, Namespace: "kube-system", Name: "kcsr-controllers", Identity: "host-a_1"}
			tt.modify(&cfg)
			var got []string
			if err := cfg.Validate(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
	if err := Run(context.Background(), Config{}, func(context.Context) { t.Error("run called") }); err == nil {
		t.Error("Run with an empty Config: want an error")
	}
}

func TestNewIdentity(t *testing.T) {
	a, err := NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewIdentity()
	host, _, ok := strings.Cut(a, "_")
	if !ok || host == "" || a == b || !strings.HasPrefix(b, host+"_") {
		t.Errorf("NewIdentity() = %q, %q; want <hostname>_<random>, different each time", a, b)
	}
}
