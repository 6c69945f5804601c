package main

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestPercentile(t *testing.T) {
	shuffled := seq(1, 1000)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tests := []struct {
		name    string
		samples []time.Duration
		ps      []float64
		want    []time.Duration
	}{
		{"empty", nil, []float64{0, 50, 99, 100}, ms(0, 0, 0, 0)},
		{"one sample is every percentile", ms(7), []float64{0, 1, 50, 99, 100}, ms(7, 7, 7, 7, 7)},
		{"1..100 ms", ms(seq(1, 100)...), []float64{1, 50, 90, 99, 100}, ms(1, 50, 90, 99, 100)},
		// Nearest rank, not interpolation: p50 of four samples is the second one.
		{"four samples", ms(10, 20, 30, 40), []float64{25, 50, 51, 75, 76}, ms(10, 20, 30, 30, 40)},
		{"unsorted input, 1000 samples", ms(shuffled...), []float64{50, 90, 99, 99.9}, ms(500, 900, 990, 999)},
		{"a single outlier sets p100 only", ms(append(seq(1, 99), 5000)...), []float64{99, 100}, ms(99, 5000)},
		{"out of range p is clamped", ms(1, 2, 3), []float64{-5, 250}, ms(1, 3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDistribution(tc.samples)
			var got []time.Duration
			for _, p := range tc.ps {
				got = append(got, d.Percentile(p))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("percentiles %v (-want +got):\n%s", tc.ps, diff)
			}
		})
	}
}

func TestDistributionDoesNotReorderInput(t *testing.T) {
	in := ms(3, 1, 2)
	newDistribution(in)
	if diff := cmp.Diff(ms(3, 1, 2), in); diff != "" {
		t.Errorf("input changed (-want +got):\n%s", diff)
	}
}

func TestMeanMedianRate(t *testing.T) {
	if got, want := newDistribution(ms(1, 2, 3, 10)).Mean(), 4*time.Millisecond; got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
	if got, want := median(ms(9, 1, 5)), 5*time.Millisecond; got != want {
		t.Errorf("median = %v, want %v", got, want)
	}
	if got, want := perSecond(500, 250*time.Millisecond), 2000.0; got != want {
		t.Errorf("perSecond = %v, want %v", got, want)
	}
	if got := perSecond(5, 0); got != 0 {
		t.Errorf("perSecond over 0s = %v, want 0", got)
	}
}

func BenchmarkPercentiles100k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 100_000)
	for i := range samples {
		samples[i] = time.Duration(r.Int64N(int64(time.Second)))
	}
	for b.Loop() {
		d := newDistribution(samples)
		_ = d.Percentile(50) + d.Percentile(90) + d.Percentile(99)
	}
}

func TestScaleProjection(t *testing.T) {
	r := &scaleResult{
		CSRs: 1_000, Issued: 100_000, // the CSRs the cleaner has not collected yet
		MemEmpty:      memory{RSS: 100 << 20},
		MemStart:      memory{RSS: 100<<20 + 100_000*1500},            // 1500 B of RSS per certificate
		LiveHeapEmpty: 50 << 20, LiveHeapStart: 50<<20 + 101_000*1000, // 1000 B live per object
		LiveHeapFilled: 50<<20 + 101_000*3000,                   // 3000 B under load
		EmptyDB:        1 << 20, StorageDB: 1<<20 + 101_000*400, // 400 B of bbolt per object
	}
	r.project()
	// 100 MiB + 1500 B × 1M
	if want := int64(100<<20 + 1_500_000_000); r.ProjectedRSS1M != want || r.RSSPerIssued != 1500 || r.LiveHeapPerObject != 1000 || r.LoadedPerObject != 3000 || r.DBPerObject != 400 {
		t.Errorf("projection = %d (%v B per certificate; live %v B, under load %v B, db %v B per object), want %d (1500 B; 1000 B, 3000 B, 400 B)", r.ProjectedRSS1M, r.RSSPerIssued, r.LiveHeapPerObject, r.LoadedPerObject, r.DBPerObject, want)
	}
	empty := &scaleResult{}
	empty.project()
	if empty.ProjectedRSS1M != 0 {
		t.Errorf("projection with no objects = %d, want 0", empty.ProjectedRSS1M)
	}
}
