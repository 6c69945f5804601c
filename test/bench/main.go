// Command bench is kcsr's issuance benchmark (issue #8, docs/benchmarks.md): the same CSR
// work against `kcsr server` (embedded etcd) and against a real etcd + kube-apiserver +
// kube-controller-manager on the same machine, in one run, with the bare
// x509.CreateCertificate rate of the machine as the ceiling. With --scale N it measures
// instead how kcsr server behaves with N CSRs and N inventory records stored.
//
// It starts and stops every server itself (its own launcher, with the flags of the
// real-cluster test harness) and measures them from outside: CPU from /proc/<pid>/stat,
// peak RSS from /proc/<pid>/status, storage from etcd's data directory. It never touches
// a server it did not start. Run it with hack/bench.sh, which builds what it needs.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// runID makes this run's CSR names and labels unique.
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

type options struct {
	N, Workers     int
	Systems        []string
	Scale          int
	KcsrBinary     string
	KubeBinDir     string
	KCMQPS         int
	WorkDir        string
	Keep           bool
	CPUProfile     string
	AllocProfile   string
	ProfileSeconds int
	Stall          time.Duration
	HalfRate       bool
	Policy         bool
	Manual         int
	Warmup         int
	SigningTime    time.Duration
	JSON           string
	KcsrArgs       []string
	ScaleKeepCSRs  bool
	KcsrEnv        []string
	Rate           float64
	Restarts       int
}

func main() {
	o := options{}
	fs := pflag.NewFlagSet("bench", pflag.ExitOnError)
	fs.IntVarP(&o.N, "csrs", "n", 2000, "CSRs per measured phase (keys and CSRs are generated before the timed window).")
	fs.IntVarP(&o.Workers, "concurrency", "c", 16, "Concurrent client-go workers creating CSRs (no client-side rate limit).")
	fs.StringSliceVar(&o.Systems, "systems", []string{"kcsr", "kube"}, "Systems to measure: kcsr (kcsr server, embedded etcd), kube (etcd + kube-apiserver + kube-controller-manager).")
	fs.IntVar(&o.Scale, "scale", 0, "Instead of the comparison: fill kcsr server with this many CSRs (and as many inventory records), then measure lists, watch start, RSS and cold start.")
	fs.StringVar(&o.KcsrBinary, "kcsr-binary", ".cache/bench/kcsr", "The kcsr binary (go build -o … ./cmd/kcsr).")
	fs.StringVar(&o.KubeBinDir, "kube-bin-dir", ".cache/kube/v1.37.2/bin", "Directory with etcd, kube-apiserver and kube-controller-manager (hack/build-kube.sh).")
	fs.IntVar(&o.KCMQPS, "kcm-qps", 5000, "kube-controller-manager's --kube-api-qps (its --kube-api-burst is twice that); the defaults (20/30) would cap Kubernetes far below its servers' capacity.")
	fs.StringVar(&o.WorkDir, "work-dir", "", "Directory for the servers' data and logs (default: a new temporary directory, removed at the end unless --keep).")
	fs.BoolVar(&o.Keep, "keep", false, "Keep the work directory (data and logs).")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "Write a CPU profile of kcsr server under the node-client load to this file (an extra phase, after the measured ones).")
	fs.StringVar(&o.AllocProfile, "allocprofile", "", "Write an allocation profile (delta over the same window) of kcsr server to this file.")
	fs.IntVar(&o.ProfileSeconds, "profile-seconds", 0, "Length of the profiles; 0: 80 % of the measured node-client phase (at most 50 s).")
	fs.DurationVar(&o.Stall, "stall-timeout", 2*time.Minute, "Give up on a phase when no CSR was issued for this long.")
	fs.IntVar(&o.Restarts, "restarts", 3, "With --scale: how many cold starts to time.")
	fs.BoolVar(&o.ScaleKeepCSRs, "scale-keep-csrs", false, "With --scale: keep every CSR (by default each chunk's CSRs are deleted once issued, as the cleaner does an hour later).")
	fs.Float64Var(&o.Rate, "rate", 0, "Run only the node-client workload, open loop at this many CSRs per second (e.g. to measure latency at a known rate); no max, policy or half-rate phase.")
	fs.BoolVar(&o.HalfRate, "half-rate", true, "Also run an open-loop phase at half of each system's measured maximum, for the latency there.")
	fs.BoolVar(&o.Policy, "policy", true, "Also run the policy-approved workload on kcsr.")
	fs.IntVar(&o.Manual, "manual", 500, "Also time this many manual approvals, one at a time, on each system: CSRs created Pending, then approved through /approval as kubectl certificate approve does; 0: none.")
	fs.IntVar(&o.Warmup, "warmup", 20, "CSRs of each workload issued before anything is timed.")
	fs.DurationVar(&o.SigningTime, "signing-time", 3*time.Second, "How long the bare x509.CreateCertificate rate is measured.")
	fs.StringVar(&o.JSON, "json", "", "Also write every figure to this file as JSON.")
	fs.StringArrayVar(&o.KcsrArgs, "kcsr-arg", nil, "Extra flag for kcsr server (repeatable), e.g. --kcsr-arg=--v=2.")
	fs.StringArrayVar(&o.KcsrEnv, "kcsr-env", nil, "Extra environment variable for kcsr server only (repeatable), e.g. --kcsr-env=GOGC=200.")
	_ = fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := o.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (o *options) validate() error {
	var errs []error
	if o.N < 1 || o.Workers < 1 {
		errs = append(errs, errors.New("-n and -c must be at least 1"))
	}
	if o.Manual < 0 {
		errs = append(errs, errors.New("--manual must not be negative"))
	}
	if o.Rate < 0 {
		errs = append(errs, errors.New("--rate must not be negative"))
	}
	for _, s := range o.Systems {
		if s != "kcsr" && s != "kube" {
			errs = append(errs, fmt.Errorf("--systems: unknown system %q; use kcsr and/or kube", s))
		}
	}
	if o.Scale > 0 || slices.Contains(o.Systems, "kcsr") {
		if _, err := os.Stat(o.KcsrBinary); err != nil {
			errs = append(errs, fmt.Errorf("--kcsr-binary: %w (build it: go build -o %s ./cmd/kcsr, or run hack/bench.sh)", err, o.KcsrBinary))
		}
	}
	if o.Scale == 0 && slices.Contains(o.Systems, "kube") {
		for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager"} {
			if _, err := os.Stat(filepath.Join(o.KubeBinDir, b)); err != nil {
				errs = append(errs, fmt.Errorf("--kube-bin-dir: %w (run hack/build-kube.sh)", err))
			}
		}
	}
	return errors.Join(errs...)
}

func (o *options) run(ctx context.Context) error {
	if err := o.validate(); err != nil {
		return err
	}
	work := o.WorkDir
	if work == "" {
		dir, err := os.MkdirTemp("", "kcsr-bench-")
		if err != nil {
			return err
		}
		work = dir
	} else if err := os.MkdirAll(work, 0o700); err != nil {
		return err
	}
	failed := true
	defer func() {
		if o.Keep || failed {
			fmt.Fprintf(os.Stderr, "bench: data and logs kept in %s\n", work)
			return
		}
		os.RemoveAll(work)
	}()
	if abs, err := filepath.Abs(o.KcsrBinary); err == nil {
		o.KcsrBinary = abs
	}
	if abs, err := filepath.Abs(o.KubeBinDir); err == nil {
		o.KubeBinDir = abs
	}
	tok, err := newTokens(work)
	if err != nil {
		return err
	}

	rep := &report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: describeMachine(),
		N:       o.N, Workers: o.Workers, Scale: o.Scale,
	}
	rep.printHeader(os.Stdout)
	logf("measuring the bare x509.CreateCertificate rate (%s, 1 and %d goroutines)", o.SigningTime, runtime.NumCPU())
	if rep.BareSigning1, err = signingRate(work, 1, o.SigningTime); err != nil {
		return err
	}
	if rep.BareSigningAll, err = signingRate(work, runtime.NumCPU(), o.SigningTime); err != nil {
		return err
	}
	rep.printSigning(os.Stdout)

	if o.Scale > 0 {
		sc, err := runScale(ctx, o, work, tok)
		if sc != nil {
			rep.ScaleResult = sc
			sc.print(os.Stdout)
		}
		if err != nil {
			return err
		}
	} else {
		for _, name := range o.Systems {
			results, err := o.measureSystem(ctx, name, work, tok, rep)
			rep.Phases = append(rep.Phases, results...)
			if err != nil {
				return err
			}
		}
		rep.print(os.Stdout)
	}
	if o.JSON != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.JSON, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	failed = false
	return nil
}

// measureSystem starts one system, warms it up, runs its phases and stops it.
func (o *options) measureSystem(ctx context.Context, name, work string, tok tokens, rep *report) ([]*phaseResult, error) {
	logf("%s: starting", name)
	var s *system
	var err error
	workloads := []workload{nodeClient}
	switch name {
	case "kcsr":
		s, err = startKcsr(ctx, o.KcsrBinary, work, tok, o.KcsrArgs, o.KcsrEnv)
		if o.Policy {
			workloads = append(workloads, policyClient)
		}
	case "kube":
		s, err = startKube(ctx, o.KubeBinDir, work, tok, o.KCMQPS)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer s.stop()
	logf("%s: ready; warming up (%d CSRs of each workload)", name, o.Warmup)
	if err := warmUp(ctx, s, workloads, o.Warmup); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, s.logs())
	}

	var results []*phaseResult
	if o.Rate > 0 {
		r, err := measure(ctx, s, "rate", nodeClient, o.N, load{Rate: o.Rate}, o.Stall)
		if r != nil {
			results = append(results, r)
		}
		return results, err
	}
	maxLoad := load{Workers: o.Workers}
	nc, err := measure(ctx, s, "max", nodeClient, o.N, maxLoad, o.Stall)
	if nc != nil {
		results = append(results, nc)
	}
	if err != nil {
		return results, err
	}
	if o.Policy && name == "kcsr" {
		pc, err := measure(ctx, s, "max", policyClient, o.N, maxLoad, o.Stall)
		if pc != nil {
			results = append(results, pc)
		}
		if err != nil {
			return results, err
		}
	}
	if o.HalfRate && nc.IssuedPerSec > 0 {
		half, err := measure(ctx, s, "half", nodeClient, o.N, load{Rate: nc.IssuedPerSec / 2}, o.Stall)
		if half != nil {
			results = append(results, half)
		}
		if err != nil {
			return results, err
		}
	}
	if o.Manual > 0 {
		m, err := measure(ctx, s, "manual", manualClient, o.Manual, load{Workers: 1}, o.Stall)
		if m != nil {
			results = append(results, m)
		}
		if err != nil {
			return results, err
		}
	}
	if name == "kcsr" && (o.CPUProfile != "" || o.AllocProfile != "") {
		if err := o.profile(ctx, s, nc); err != nil {
			return results, err
		}
	}
	return results, nil
}

// profile runs the node-client load once more while taking CPU and allocation profiles of
// kcsr server (not during the measured phases: profiling costs a few per cent).
func (o *options) profile(ctx context.Context, s *system, measured *phaseResult) error {
	d := time.Duration(o.ProfileSeconds) * time.Second
	if d == 0 {
		d = min(time.Duration(0.8*measured.Seconds*float64(time.Second)).Truncate(time.Second), 50*time.Second)
		if d < time.Second {
			d = time.Second
		}
	}
	logf("kcsr: profiling for %s under the node-client load (c=%d)", d, o.Workers)
	csrs, err := generate(nodeClient, "prof-"+runID, o.N)
	if err != nil {
		return err
	}
	creator, watcher, err := clientsFor(s, nodeClient)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	pending := 0
	for kind, path := range map[string]string{"profile": o.CPUProfile, "allocs": o.AllocProfile} {
		if path == "" {
			continue
		}
		pending++
		go func() { errs <- fetchProfile(ctx, s, kind, d, path) }()
	}
	time.Sleep(200 * time.Millisecond) // the profiles start before the load
	if _, err := run(ctx, creator, watcher, "prof-"+runID, csrs, load{Workers: o.Workers}, o.Stall, false); err != nil {
		return err
	}
	var all []error
	for range pending {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	for _, p := range []string{o.CPUProfile, o.AllocProfile} {
		if p != "" {
			logf("kcsr: wrote %s (go tool pprof -top %s)", p, p)
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func short(w workload) string {
	return strings.Map(func(r rune) rune {
		if r == '-' {
			return -1
		}
		return r
	}, string(w))
}
