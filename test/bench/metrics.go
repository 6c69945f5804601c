package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// requestCounts reads apiserver_request_total from the server's /metrics as the
// administrator, summed by "VERB resource[/subresource]" (kube-apiserver and kcsr server
// export the same k8s.io/apiserver metric). The difference over a phase says how many API
// requests one CSR costs on each system, the in-process controllers' included.
func requestCounts(ctx context.Context, s *system) (map[string]float64, error) {
	client, err := s.adminClient()
	if err != nil {
		return nil, err
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: GET /metrics: %w", s.name, err)
	}
	defer body.Close()
	return parseRequestCounts(body)
}

// The series read from /metrics: request counts, and the sum of request durations (with
// "duration:" prefixed to the key) from which a phase's mean server-side latency follows.
// The storage's own requests (etcd_request_duration_seconds_count, "storage:" prefixed)
// count the writes to etcd whoever made them: a write made inside another request (kcsr's
// inventory record in the request that issues the certificate) is no API request.
var requestSeries = map[string]string{
	"apiserver_request_total{":                "",
	"apiserver_request_duration_seconds_sum{": "duration:",
	"etcd_request_duration_seconds_count{":    "storage:",
}

// writeOperations are the operations of etcd_request_duration_seconds that write.
var writeOperations = map[string]bool{"create": true, "update": true, "delete": true}

func parseRequestCounts(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line, prefix string
		ok := false
		for series, p := range requestSeries {
			if line, ok = strings.CutPrefix(sc.Text(), series); ok {
				prefix = p
				break
			}
		}
		if !ok {
			continue
		}
		labelText, valueText, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(valueText)[0], 64)
		if err != nil {
			return nil, fmt.Errorf("apiserver_request_total value %q: %w", valueText, err)
		}
		labels := parseLabels(labelText)
		if labels["resource"] == "" {
			continue // non-resource requests: /healthz, /metrics
		}
		if prefix == "storage:" {
			if writeOperations[labels["operation"]] {
				out[prefix+labels["operation"]+" "+labels["resource"]] += v
			}
			continue
		}
		key := prefix + labels["verb"] + " " + labels["resource"]
		if sub := labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		out[key] += v
	}
	return out, sc.Err()
}

// parseLabels reads a Prometheus label set: name="value",… (values here never hold quotes).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, `="`)
		if !ok {
			break
		}
		value, rest, _ := strings.Cut(rest, `"`)
		out[strings.TrimPrefix(name, ",")] = value
		s = rest
	}
	return out
}

// perCSR is after − before, per issued CSR, dropping what rounds to zero (durations
// excepted).
func perCSR(before, after map[string]float64, issued int) map[string]float64 {
	out := map[string]float64{}
	if issued == 0 {
		return out
	}
	for k, v := range after {
		if strings.HasPrefix(k, "duration:") {
			continue
		}
		if d := (v - before[k]) / float64(issued); d >= 0.005 {
			out[k] = d
		}
	}
	return out
}

// meanLatency is the mean server-side duration in milliseconds of each kind of request
// over the phase (WATCH excluded: its duration is the watch's life).
func meanLatency(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, sum := range after {
		key, ok := strings.CutPrefix(k, "duration:")
		if !ok || strings.HasPrefix(key, "WATCH") {
			continue
		}
		if n := after[key] - before[key]; n > 0 {
			out[key] = (sum - before[k]) / n * 1000
		}
	}
	return out
}

// formatRequests lists requests per CSR, writes first, largest first, with their mean
// server-side latency when known.
func formatRequests(m, latency map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	isWrite := func(k string) bool {
		verb, _, _ := strings.Cut(k, " ")
		return verb == "POST" || verb == "PUT" || verb == "PATCH" || verb == "DELETE"
	}
	sort.Slice(keys, func(i, j int) bool {
		if isWrite(keys[i]) != isWrite(keys[j]) {
			return isWrite(keys[i])
		}
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var writes, reads float64
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if strings.HasPrefix(k, "storage:") {
			continue // formatStorageWrites
		}
		part := fmt.Sprintf("%s %.2f", k, m[k])
		if l, ok := latency[k]; ok {
			part += fmt.Sprintf(" (%.1f ms)", l)
		}
		parts = append(parts, part)
		if isWrite(k) {
			writes += m[k]
		} else if !strings.HasPrefix(k, "WATCH") {
			reads += m[k]
		}
	}
	return fmt.Sprintf("%.2f writes, %.2f other requests: %s", writes, reads, strings.Join(parts, ", "))
}

// storageWrites is the number of writes to etcd per CSR in m (each one a raft entry, made
// durable by a WAL fsync that etcd may share between concurrent writes).
func storageWrites(m map[string]float64) float64 {
	var n float64
	for k, v := range m {
		if strings.HasPrefix(k, "storage:") {
			n += v
		}
	}
	return n
}

// formatStorageWrites lists the writes to etcd per CSR, largest first.
func formatStorageWrites(m map[string]float64) string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, "storage:") {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.2f", strings.TrimPrefix(k, "storage:"), m[k])
	}
	return fmt.Sprintf("%.2f storage writes: %s", storageWrites(m), strings.Join(parts, ", "))
}

// liveHeap forces a garbage collection in the server (GET /debug/pprof/heap?gc=1, as the
// administrator) and returns its Go heap in use right after (go_memstats_heap_alloc_bytes):
// the memory its stored objects really hold, without the garbage that RSS also counts.
func liveHeap(ctx context.Context, s *system) (int64, error) {
	client, err := s.adminClient()
	if err != nil {
		return 0, err
	}
	rc := client.Discovery().RESTClient()
	if _, err := rc.Get().AbsPath("/debug/pprof/heap").Param("gc", "1").DoRaw(ctx); err != nil {
		return 0, fmt.Errorf("%s: force a GC through /debug/pprof/heap?gc=1: %w", s.name, err)
	}
	body, err := rc.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: GET /metrics: %w", s.name, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	return 0, fmt.Errorf("%s: /metrics has no go_memstats_heap_alloc_bytes", s.name)
}
