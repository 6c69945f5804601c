package main

import (
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
)

// report is everything one run measured.
type report struct {
	Date           string         `json:"date"`
	Machine        machine        `json:"machine"`
	N              int            `json:"n"`
	Workers        int            `json:"workers"`
	Scale          int            `json:"scale,omitempty"`
	BareSigning1   float64        `json:"bareSigningPerSec1Goroutine"`
	BareSigningAll float64        `json:"bareSigningPerSecAllCores"`
	Phases         []*phaseResult `json:"phases,omitempty"`
	ScaleResult    *scaleResult   `json:"scale_result,omitempty"`
}

func (r *report) printHeader(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "kcsr issuance benchmark, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %s, %d CPUs, %s RAM, Linux %s, %s %s/%s; load average at start %s\n",
		m.CPUModel, m.CPUs, size(m.MemTotal), m.Kernel, m.Go, runtime.GOOS, runtime.GOARCH, m.LoadAvg)
	if r.Scale > 0 {
		fmt.Fprintf(w, "scale: %d CSRs, c=%d\n\n", r.Scale, r.Workers)
	} else {
		fmt.Fprintf(w, "n=%d CSRs per phase, c=%d workers\n\n", r.N, r.Workers)
	}
}

func (r *report) printSigning(w io.Writer) {
	fmt.Fprintf(w, "bare x509.CreateCertificate (ECDSA P-256 CA, kcsr's node-client template): %.0f/s on 1 goroutine, %.0f/s on %d\n\n",
		r.BareSigning1, r.BareSigningAll, r.Machine.CPUs)
}

func (r *report) find(system string, w workload, phase string) *phaseResult {
	for _, p := range r.Phases {
		if p.System == system && p.Workload == w && p.Phase == phase {
			return p
		}
	}
	return nil
}

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "system\tworkload\tload\tissued\tissued/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tcreate p99 ms\tCPU s/1000\tclient CPU s\tpeak RSS\tetcd db\tetcd dir\t")
	for _, p := range r.Phases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.1f\t%s\t%s\t%s\t\n",
			p.System, p.Workload, p.Load, p.Issued, p.N, p.IssuedPerSec, p.P50, p.P90, p.P99, p.Max, p.CreateP99,
			p.CPUPer1000, p.ClientCPU, size(p.PeakRSSTotal()), size(p.StorageDB), size(p.StorageDisk))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, p := range r.Phases {
		if len(p.CPU) > 1 && p.Phase == "max" {
			fmt.Fprintf(w, "%s %s %s by process: CPU s %s; peak RSS %s\n", p.System, p.Workload, p.Phase, perProcess(p.CPU, func(v float64) string { return fmt.Sprintf("%.1f", v) }), perProcess(p.PeakRSS, size))
		}
	}

	fmt.Fprintln(w, "\nAPI requests per issued CSR (apiserver_request_total: the benchmark, the controllers, their informers; mean server-side latency):")
	for _, p := range r.Phases {
		if p.Phase == "max" {
			fmt.Fprintf(w, "  %s %s: %s\n", p.System, p.Workload, formatRequests(p.Requests, p.RequestLatency))
		}
	}
	fmt.Fprintln(w, "\nWrites to etcd per issued CSR (etcd_request_duration_seconds_count: create, update, delete; events included):")
	for _, p := range r.Phases {
		if p.Phase == "max" || p.Phase == "half" || p.Phase == "manual" {
			fmt.Fprintf(w, "  %s %s %s: %s\n", p.System, p.Workload, p.Phase, formatStorageWrites(p.Requests))
		}
	}

	kcsr, kube := r.find("kcsr", nodeClient, "max"), r.find("kube", nodeClient, "max")
	if kcsr != nil && kube != nil {
		fmt.Fprintf(w, "\nkcsr / Kubernetes, node-client at max: issued/s %.2f×, p50 %.2f×, p99 %.2f×, CPU per CSR %.2f×, peak RSS %.2f×, etcd db %.2f×\n",
			ratio(kcsr.IssuedPerSec, kube.IssuedPerSec), ratio(kcsr.P50, kube.P50), ratio(kcsr.P99, kube.P99),
			ratio(kcsr.CPUPer1000, kube.CPUPer1000), ratio(float64(kcsr.PeakRSSTotal()), float64(kube.PeakRSSTotal())),
			ratio(float64(kcsr.StorageDB), float64(kube.StorageDB)))
	}
	if kcsr != nil && r.BareSigningAll > 0 {
		fmt.Fprintf(w, "kcsr issued/s as a fraction of the bare signing rate on %d cores: %.2f %%\n", r.Machine.CPUs, 100*kcsr.IssuedPerSec/r.BareSigningAll)
	}

	fmt.Fprintln(w, "\ntargets (issue #8):")
	if kcsr != nil && kube != nil {
		x := ratio(kcsr.IssuedPerSec, kube.IssuedPerSec)
		fmt.Fprintf(w, "  %s kcsr issued/s ≥ 5× Kubernetes: %.2f×\n", verdict(x >= 5), x)
	}
	if kcsr != nil && r.BareSigningAll > 0 {
		f := kcsr.IssuedPerSec / r.BareSigningAll
		fmt.Fprintf(w, "  %s kcsr ≥ 20 %% of the bare signing rate, every write durable: %.2f %%\n", verdict(f >= 0.2), 100*f)
	}
	if half := r.find("kcsr", nodeClient, "half"); half != nil {
		fmt.Fprintf(w, "  %s p99 create→Issued ≤ 20 ms at half of kcsr's max rate (%.0f/s): %.1f ms\n", verdict(half.P99 <= 20), half.Load.Rate, half.P99)
	}
	fmt.Fprintln(w, "  (1M stored objects within 2 GiB and cold start ≤ 60 s: run with --scale)")

	fmt.Fprintln(w, "\ntargets (issue #15, issue in one write):")
	if kcsr != nil && kube != nil {
		c := ratio(kcsr.CPUPer1000, kube.CPUPer1000)
		fmt.Fprintf(w, "  %s kcsr CPU s per 1000 issued ≤ 1/5 of Kubernetes': %.2f×\n", verdict(c <= 0.2), c)
	}
	if half := r.find("kcsr", nodeClient, "half"); half != nil {
		fmt.Fprintf(w, "  %s rule-approved p50 create→issued ≤ 5 ms at half the max: %.1f ms\n", verdict(half.P50 <= 5), half.P50)
	}
	if m := r.find("kcsr", manualClient, "manual"); m != nil {
		fmt.Fprintf(w, "  %s manual approval → certificate p99 ≤ 10 ms: %.1f ms\n", verdict(m.P99 <= 10), m.P99)
		fmt.Fprintf(w, "  %s ≤ 2 writes to etcd per manually approved certificate (its create included): %.2f\n", verdict(storageWrites(m.Requests) <= 2), storageWrites(m.Requests))
	}
	if kcsr != nil {
		fmt.Fprintf(w, "  %s ≤ 1.2 writes to etcd per rule-approved certificate: %.2f\n", verdict(storageWrites(kcsr.Requests) <= 1.2), storageWrites(kcsr.Requests))
	}
}

func verdict(ok bool) string {
	if ok {
		return "MET   "
	}
	return "MISSED"
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func perProcess[V int64 | float64](m map[string]V, format func(V) string) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + format(m[n])
	}
	return strings.Join(parts, ", ")
}

// size formats a size in binary units.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
