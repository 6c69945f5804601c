package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
)

// phaseResult is every figure of one phase on one system.
type phaseResult struct {
	System       string   `json:"system"`
	Phase        string   `json:"phase"` // "max" (closed loop) or "half" (open loop at half the max)
	Workload     workload `json:"workload"`
	Load         load     `json:"load"`
	N            int      `json:"n"`
	Issued       int      `json:"issued"`
	Failed       int      `json:"failed"`
	CreateErrors int      `json:"createErrors"`
	FirstError   string   `json:"firstError,omitempty"`
	Stalled      bool     `json:"stalled,omitempty"`

	// Seconds is first create sent → last certificate seen on the watch.
	Seconds      float64 `json:"seconds"`
	IssuedPerSec float64 `json:"issuedPerSec"`
	// Latencies in milliseconds: create sent → Issued seen on the watch, and the create
	// call alone.
	P50       float64 `json:"p50Ms"`
	P90       float64 `json:"p90Ms"`
	P99       float64 `json:"p99Ms"`
	Max       float64 `json:"maxMs"`
	CreateP50 float64 `json:"createP50Ms"`
	CreateP99 float64 `json:"createP99Ms"`

	// Server CPU seconds over the phase, per process, and per 1000 issued CSRs (all
	// processes of the system).
	CPU        map[string]float64 `json:"cpuSeconds"`
	CPUPer1000 float64            `json:"cpuSecondsPer1000"`
	// ClientCPU is the benchmark process's own CPU over the phase: it shares the machine.
	ClientCPU float64 `json:"clientCpuSeconds"`
	// PeakRSS is VmHWM since each process started (so it covers earlier phases too); RSS is
	// VmRSS at the end of the phase.
	PeakRSS map[string]int64 `json:"peakRssBytes"`
	RSS     map[string]int64 `json:"rssBytes"`
	// StorageDB is etcd's bbolt file; StorageDisk the whole etcd data directory (WAL
	// included, preallocated in 64 MB segments), both cumulative.
	StorageDB   int64  `json:"storageDbBytes"`
	StorageDisk int64  `json:"storageDiskBytes"`
	LoadAvg     string `json:"loadAvgAfter"`
	// Requests is API requests per issued CSR over the phase, by "VERB resource", and the
	// writes to etcd, by "storage:OPERATION resource".
	Requests map[string]float64 `json:"requestsPerCsr,omitempty"`
	// RequestLatency is their mean server-side duration over the phase, in milliseconds.
	RequestLatency map[string]float64 `json:"requestLatencyMs,omitempty"`
}

func sum[V int64 | float64](m map[string]V) V {
	var s V
	for _, v := range m {
		s += v
	}
	return s
}

func (r *phaseResult) PeakRSSTotal() int64 { return sum(r.PeakRSS) }
func (r *phaseResult) CPUTotal() float64   { return sum(r.CPU) }

func clientsFor(s *system, w workload) (creator, watcher kubernetes.Interface, err error) {
	if w == manualClient {
		// The administrator creates and approves.
		if creator, err = s.adminClient(); err != nil {
			return nil, nil, err
		}
		return creator, creator, nil
	}
	if creator, err = kubernetes.NewForConfig(s.tokenConfig(s.tokenFor(w))); err != nil {
		return nil, nil, err
	}
	watcher, err = s.adminClient()
	return creator, watcher, err
}

// measure generates n CSRs of workload w (untimed), then creates them under load l and
// measures the system over the phase.
func measure(ctx context.Context, s *system, phase string, w workload, n int, l load, stall time.Duration) (*phaseResult, error) {
	label := fmt.Sprintf("%s-%s-%s", short(w), phase, runID)
	logf("%s: %s %s: generating %d keys and CSRs", s.name, w, phase, n)
	csrs, err := generate(w, label, n)
	if err != nil {
		return nil, err
	}
	creator, watcher, err := clientsFor(s, w)
	if err != nil {
		return nil, err
	}
	// Let the previous phase's stragglers (events, the cleaner) finish.
	time.Sleep(2 * time.Second)
	logf("%s: %s %s: %d CSRs, %s", s.name, w, phase, n, l)
	cpu0, err := s.cpu()
	if err != nil {
		return nil, err
	}
	self0 := selfCPU()
	req0, err := requestCounts(ctx, s)
	if err != nil {
		return nil, err
	}
	o, err := run(ctx, creator, watcher, label, csrs, l, stall, w == manualClient)
	if err != nil {
		return nil, err
	}
	cpu1, err := s.cpu()
	if err != nil {
		return nil, err
	}
	self1 := selfCPU()
	if err := s.alive(); err != nil {
		return nil, err
	}
	req1, err := requestCounts(ctx, s)
	if err != nil {
		return nil, err
	}
	r := &phaseResult{System: s.name, Phase: phase, Workload: w, Load: l, N: n, CreateErrors: o.createErrors, Stalled: o.stalled, LoadAvg: loadAvg()}
	if o.firstError != nil {
		r.FirstError = o.firstError.Error()
	}
	r.Issued, r.Failed = o.counts()
	r.Requests = perCSR(req0, req1, r.Issued)
	r.RequestLatency = meanLatency(req0, req1)
	elapsed := o.end.Sub(o.start)
	r.Seconds = elapsed.Seconds()
	r.IssuedPerSec = perSecond(r.Issued, elapsed)
	toIssued, create := o.latencies()
	d, c := newDistribution(toIssued), newDistribution(create)
	msOf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.P50, r.P90, r.P99, r.Max = msOf(d.Percentile(50)), msOf(d.Percentile(90)), msOf(d.Percentile(99)), msOf(d.Max())
	r.CreateP50, r.CreateP99 = msOf(c.Percentile(50)), msOf(c.Percentile(99))
	r.CPU = map[string]float64{}
	for name, v := range cpu1 {
		r.CPU[name] = (v - cpu0[name]).Seconds()
	}
	if r.Issued > 0 {
		r.CPUPer1000 = r.CPUTotal() / float64(r.Issued) * 1000
	}
	r.ClientCPU = (self1 - self0).Seconds()
	if r.RSS, r.PeakRSS, err = s.memory(); err != nil {
		return r, err
	}
	if r.StorageDisk, r.StorageDB, err = diskUsage(s.etcdDir); err != nil {
		return r, err
	}
	logf("%s: %s %s: %d/%d issued in %.1fs: %.0f/s, p50 %.1fms p99 %.1fms, %.2f CPU s/1000, load %s",
		s.name, w, phase, r.Issued, n, r.Seconds, r.IssuedPerSec, r.P50, r.P99, r.CPUPer1000, r.LoadAvg)
	if r.Issued < n {
		return r, fmt.Errorf("%s: %s %s: only %d of %d CSRs issued (%d failed, %d create errors, stalled %v): %s\n%s",
			s.name, w, phase, r.Issued, n, r.Failed, r.CreateErrors, r.Stalled, r.FirstError, s.logs())
	}
	return r, nil
}
