package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/component-base/metrics"

	"kcsr.dev/kcsr/pkg/testkit"
)

func gather(t *testing.T, count func(*Inventory) bool) (revoked, expiring map[string]float64) {
	t.Helper()
	r := metrics.NewKubeRegistry()
	r.CustomMustRegister(NewInventoryCollector(count))
	return testkit.Series(t, r, "kcsr_revoked_certificates"), testkit.Series(t, r, "kcsr_certificates_expiring")
}

func TestInventoryCollector(t *testing.T) {
	tests := []struct {
		name         string
		count        func(*Inventory) bool
		wantRevoked  map[string]float64
		wantExpiring map[string]float64
	}{{
		name:         "source not ready",
		count:        func(inv *Inventory) bool { inv.Revoked("cluster", "keyCompromise", 1); return false },
		wantRevoked:  map[string]float64{},
		wantExpiring: map[string]float64{},
	}, {
		name: "revoked: added up, zeros kept",
		count: func(inv *Inventory) bool {
			inv.Revoked("cluster", "keyCompromise", 0)
			inv.Revoked("cluster", "superseded", 2)
			inv.Revoked("cluster", "superseded", 1)
			inv.Revoked("example.com_signer", "superseded", 1)
			return true
		},
		wantRevoked: map[string]float64{
			`ca="cluster",reason="keyCompromise"`:         0,
			`ca="cluster",reason="superseded"`:            3,
			`ca="example.com_signer",reason="superseded"`: 1,
		},
		wantExpiring: map[string]float64{},
	}, {
		name: "expiring: cumulative windows, bounds included",
		count: func(inv *Inventory) bool {
			inv.Live("s", 59*time.Minute, false)
			inv.Live("s", time.Hour, false)
			inv.Live("s", time.Hour+time.Nanosecond, true)
			inv.Live("s", 7*24*time.Hour, false)
			inv.Live("s", 30*24*time.Hour+time.Second, false)
			inv.Signer("s")
			inv.Signer("idle")
			return true
		},
		wantRevoked: map[string]float64{},
		wantExpiring: expiring(map[string][2][5]float64{
			//       renewed=false       renewed=true
			"s":    {{2, 2, 3, 3, 4}, {0, 1, 1, 1, 1}},
			"idle": {},
		}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			revoked, expiring := gather(t, tt.count)
			if diff := cmp.Diff(tt.wantRevoked, revoked); diff != "" {
				t.Errorf("kcsr_revoked_certificates (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantExpiring, expiring); diff != "" {
				t.Errorf("kcsr_certificates_expiring (-want +got):\n%s", diff)
			}
		})
	}
}

// expiring writes the series of kcsr_certificates_expiring from counts by signer, renewed
// (false, true) and window.
func expiring(counts map[string][2][5]float64) map[string]float64 {
	out := map[string]float64{}
	for signer, c := range counts {
		for r, byWindow := range c {
			for w, n := range byWindow {
				out[fmt.Sprintf("renewed=%q,signer_name=%q,within=%q", fmt.Sprint(r == 1), signer, ExpiryWindows[w])] = n
			}
		}
	}
	return out
}

// The collector Register installs reports the source set last, until it is removed.
func TestSetInventorySource(t *testing.T) {
	source := func(reason string) func(*Inventory) bool {
		return func(inv *Inventory) bool { inv.Revoked("cluster", reason, 1); return true }
	}
	removeA := SetInventorySource(source("a"))
	removeB := SetInventorySource(source("b"))
	removeA() // no longer the source: does nothing
	if got, _ := gather(t, countRegisteredInventory); !cmp.Equal(got, map[string]float64{`ca="cluster",reason="b"`: 1}) {
		t.Errorf("with b set last and a removed: %v", got)
	}
	removeB()
	if got, _ := gather(t, countRegisteredInventory); len(got) != 0 {
		t.Errorf("with no source: %v", got)
	}
}
