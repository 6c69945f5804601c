package testkit

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"k8s.io/component-base/metrics"
)

// Series gathers the samples of the metric name from g, by their labels written
// `a="x",b="y"` in label order; a gauge's or a counter's value.
func Series(t testing.TB, g metrics.Gatherer, name string) map[string]float64 {
	t.Helper()
	families, err := g.Gather()
	NoError(t, err, "gather metrics")
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			out[strings.Join(labels, ",")] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return out
}
