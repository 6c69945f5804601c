// Package metrics defines kcsr's Prometheus metrics (Kubernetes' component-base registry,
// served by kcsr server on /metrics, names prefixed kcsr_). Controllers record; nothing
// here decides anything. Signer names outside kubernetes.io/ are kept as they are: a
// deployment declares few custom signers, so the label stays bounded.
package metrics

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const namespace = "kcsr"

var (
	// CSRs counts CSRs by signer and what happened: created, approved, denied, failed,
	// issued.
	CSRs = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "csr_total",
		Help:           "CertificateSigningRequests by signer name and event: created, approved, denied, failed, issued.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name", "event"})

	// TimeToDecision is the time from a CSR's creation to its approval or denial.
	TimeToDecision = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      namespace,
		Name:           "csr_time_to_decision_seconds",
		Help:           "Time from CSR creation to approval or denial, by signer name and decision.",
		Buckets:        []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60, 300, 3600, 86400},
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name", "decision"})

	// TimeToIssue is the time from a CSR's creation to its certificate.
	TimeToIssue = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      namespace,
		Name:           "csr_time_to_issue_seconds",
		Help:           "Time from CSR creation to the issued certificate, by signer name.",
		Buckets:        []float64{.005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 60, 300, 3600, 86400},
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name"})

	// SigningErrors counts transient signing failures (retried, never marked Failed).
	SigningErrors = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "signing_errors_total",
		Help:           "Signing attempts that failed and will be retried, by signer name.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name"})

	// PolicyEvaluation is the time the approver spends deciding one CSR by policy.
	PolicyEvaluation = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      namespace,
		Name:           "policy_evaluation_duration_seconds",
		Help:           "Time to evaluate every approval policy for one CSR.",
		Buckets:        metrics.ExponentialBuckets(0.0001, 2, 14),
		StabilityLevel: metrics.ALPHA,
	})
)

var once sync.Once

// Register adds kcsr's metrics to the legacy registry that /metrics serves.
func Register() {
	once.Do(func() {
		legacyregistry.MustRegister(CSRs, TimeToDecision, TimeToIssue, SigningErrors, PolicyEvaluation)
	})
}

// Since returns the seconds from t to now, never negative.
func Since(t, now time.Time) float64 {
	if d := now.Sub(t).Seconds(); d > 0 {
		return d
	}
	return 0
}
