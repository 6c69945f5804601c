package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    string
	}{
		{
			name: "plain command",
			// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
			stat: "4242 (kube-apiserver) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 566 0 0 20 0 12 0 1000 0 0",
			want: 18 * time.Second, // (1234+566) ticks of 10ms
		},
		{
			name: "command with spaces and parentheses",
			stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 5 7 0 0 20 0 1 0 0 0 0",
			want: 120 * time.Millisecond,
		},
		{name: "truncated", stat: "7 (x) R 1 2 3", wantErr: "want at least 13"},
		{name: "no command", stat: "garbage", wantErr: "without a command name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU(tc.stat)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseStatCPU = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseStatusMemory(t *testing.T) {
	status := "Name:\tetcd\nVmPeak:\t  900 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nRssAnon:\t 768 kB\nRssFile:\t 256 kB\nRssShmem:\t0 kB\nThreads:\t12\n"
	got, err := parseStatusMemory(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(memory{RSS: 1 << 20, Peak: 2 << 20, Anon: 768 << 10, File: 256 << 10}, got); diff != "" {
		t.Errorf("parseStatusMemory (-want +got):\n%s", diff)
	}
	if _, err := parseStatusMemory(strings.NewReader("Name:\tkthreadd\n")); err == nil {
		t.Errorf("a kernel thread's status (no VmHWM) gave no error")
	}
}

// TestProcessStatsOfSelf reads this test's own /proc entries: the parsers agree with the
// kernel's format.
func TestProcessStatsOfSelf(t *testing.T) {
	end := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(end) { // burn a little CPU
	}
	cpu, err := processCPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Errorf("processCPU(self) = %v, %v; want > 0", cpu, err)
	}
	m, err := processMemory(os.Getpid())
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS || m.Anon+m.File > m.RSS {
		t.Errorf("processMemory(self) = %+v, %v; want 0 < RSS ≤ peak and anon + file ≤ RSS", m, err)
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir+"/member/snap", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/member/snap/db", make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	total, db, err := diskUsage(dir)
	if err != nil || db != 64<<10 || total < 64<<10 {
		t.Errorf("diskUsage = %d, %d, %v; want db = %d and total ≥ db", total, db, err, 64<<10)
	}
}

func TestParseRequestCounts(t *testing.T) {
	metrics := `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="certificates.k8s.io",resource="certificatesigningrequests",scope="resource",subresource="",verb="POST",version="v1"} 320
apiserver_request_total{code="409",component="apiserver",dry_run="",group="certificates.k8s.io",resource="certificatesigningrequests",scope="resource",subresource="",verb="POST",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="certificates.k8s.io",resource="certificatesigningrequests",scope="resource",subresource="approval",verb="PUT",version="v1"} 300
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/readyz",verb="GET",version=""} 9
apiserver_request_duration_seconds_bucket{le="0.005",verb="POST"} 5
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="certificates.k8s.io",resource="certificatesigningrequests",scope="resource",subresource="approval",verb="PUT",version="v1"} 1.5
etcd_request_duration_seconds_count{group="kcsr.dev",operation="create",resource="issuedcertificates"} 300
etcd_request_duration_seconds_count{group="certificates.k8s.io",operation="get",resource="certificatesigningrequests"} 7
`
	got, err := parseRequestCounts(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"POST certificatesigningrequests": 321, "PUT certificatesigningrequests/approval": 300, "duration:PUT certificatesigningrequests/approval": 1.5, "storage:create issuedcertificates": 300}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parseRequestCounts (-want +got):\n%s", diff)
	}
	per := perCSR(map[string]float64{"POST certificatesigningrequests": 21}, got, 300)
	if diff := cmp.Diff(map[string]float64{"POST certificatesigningrequests": 1, "PUT certificatesigningrequests/approval": 1, "storage:create issuedcertificates": 1}, per); diff != "" {
		t.Errorf("perCSR (-want +got):\n%s", diff)
	}
	latency := meanLatency(map[string]float64{"PUT certificatesigningrequests/approval": 200, "duration:PUT certificatesigningrequests/approval": 0.5}, got)
	if diff := cmp.Diff(map[string]float64{"PUT certificatesigningrequests/approval": 10}, latency); diff != "" {
		t.Errorf("meanLatency (-want +got):\n%s", diff)
	}
	if got, want := formatRequests(per, latency), "2.00 writes, 0.00 other requests: POST certificatesigningrequests 1.00, PUT certificatesigningrequests/approval 1.00 (10.0 ms)"; got != want {
		t.Errorf("formatRequests = %q, want %q", got, want)
	}
	if got, want := formatStorageWrites(per), "1.00 storage writes: create issuedcertificates 1.00"; got != want {
		t.Errorf("formatStorageWrites = %q, want %q", got, want)
	}
}
