package metrics

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// LeaderIsLeader is 1 while this process holds a leader election Lease, 0 otherwise; the
// lease label is "<namespace>/<name>". Set by pkg/leaderelection.
var LeaderIsLeader = metrics.NewGaugeVec(&metrics.GaugeOpts{
	Namespace:      namespace,
	Name:           "leader_is_leader",
	Help:           "1 while this process holds the leader election Lease (label lease: namespace/name), 0 otherwise.",
	StabilityLevel: metrics.ALPHA,
}, []string{"lease"})

var leaderOnce sync.Once

// RegisterLeader adds the leader election metrics to the legacy registry that /metrics
// serves. It may be called any number of times; pkg/leaderelection calls it.
func RegisterLeader() {
	leaderOnce.Do(func() {
		legacyregistry.MustRegister(LeaderIsLeader)
	})
}
