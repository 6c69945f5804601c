package main

import (
	"math"
	"slices"
	"time"
)

// distribution is a set of latencies, sorted once, read by percentile.
type distribution struct {
	sorted []time.Duration
}

// newDistribution copies and sorts d.
func newDistribution(d []time.Duration) distribution {
	s := slices.Clone(d)
	slices.Sort(s)
	return distribution{sorted: s}
}

// Len is the number of samples.
func (d distribution) Len() int { return len(d.sorted) }

// Percentile is the nearest-rank percentile (0 < p ≤ 100): the smallest sample such that
// at least p % of the samples are at or below it. p ≤ 0 is the minimum; an empty
// distribution has every percentile 0.
func (d distribution) Percentile(p float64) time.Duration {
	n := len(d.sorted)
	if n == 0 {
		return 0
	}
	// The epsilon keeps float rounding (99.9/100*1000 = 999.0000000000001) from
	// moving to the next rank.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return d.sorted[rank-1]
}

// Max is the largest sample (0 when empty).
func (d distribution) Max() time.Duration { return d.Percentile(100) }

// Mean is the arithmetic mean (0 when empty).
func (d distribution) Mean() time.Duration {
	if len(d.sorted) == 0 {
		return 0
	}
	var sum time.Duration
	for _, v := range d.sorted {
		sum += v
	}
	return sum / time.Duration(len(d.sorted))
}

// perSecond is n events over d; 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// median of a few durations (e.g. repeated list timings); 0 when empty.
func median(d []time.Duration) time.Duration { return newDistribution(d).Percentile(50) }
