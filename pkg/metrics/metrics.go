// Package metrics defines kcsr's Prometheus metrics (Kubernetes' component-base registry,
// served by kcsr server on /metrics, names prefixed kcsr_). Controllers record; nothing
// here decides anything. docs/operations.md lists every metric with the alerts worth
// setting on it.
//
// Every label is bounded: signer names outside kubernetes.io/ are kept as they are (a
// deployment declares few custom signers), a CA is the publisher's ID of one signing CA
// (as few as the signers), reasons are the nine RFC 5280 revocation reasons, OCSP results
// and expiry windows are fixed lists. No label ever holds a serial number, a subject or a
// user.
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

	// EventsDropped counts the events recorded but never written (pkg/events).
	EventsDropped = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "events_dropped_total",
		Help:           "Events recorded but not written, by reason: queue_full (the writer fell behind), write_failed, no_reference, shutdown (still queued when the writer stopped).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})

	// SigningErrors counts transient signing failures (retried, never marked Failed).
	SigningErrors = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "signing_errors_total",
		Help:           "Signing attempts that failed and will be retried, by signer name.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name"})

	// UpstreamRequests times the requests to upstream CAs (package upstream), by signer
	// and result (success, error).
	UpstreamRequests = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      namespace,
		Name:           "upstream_request_duration_seconds",
		Help:           "Time of a signing request to an upstream CA (step-ca), by signer name and result: success, or error (unreachable, refused; the CSR waits with SignerUnavailable).",
		Buckets:        []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		StabilityLevel: metrics.ALPHA,
	}, []string{"signer_name", "result"})

	// InventoryExpiredDeleted counts the inventory records deleted after their retention.
	InventoryExpiredDeleted = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "inventory_expired_deleted_total",
		Help:           "IssuedCertificates deleted because their certificate expired more than the retention (--inventory-retention) ago.",
		StabilityLevel: metrics.ALPHA,
	})

	// InventoryOldestExpiry is the expiry of the oldest certificate the inventory holds.
	InventoryOldestExpiry = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "inventory_oldest_expiry_timestamp_seconds",
		Help:           "NotAfter (Unix time) of the longest-expired certificate the inventory still holds, as of the last inventory cleaning; 0 when it holds none.",
		StabilityLevel: metrics.ALPHA,
	})

	// InventoryLookups counts the field-selector lists of IssuedCertificates on an indexed
	// field, by what answered them.
	InventoryLookups = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "inventory_lookups_total",
		Help:           "Field-selector lists of IssuedCertificates on an indexed field (serial, CSR name, common name), by what answered: index (the records it names, read from storage) or storage (a scan of every record: the index named none, or was not loaded).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"answered_by"})

	// EtcdDBSize, EtcdDBInUse and EtcdQuota are the embedded etcd's database file, the
	// part of it holding live data (the rest is free pages, which a defragmentation gives
	// back), and the size at which etcd refuses every write.
	EtcdDBSize = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "etcd_db_size_bytes",
		Help:           "Size of the embedded etcd's database file.",
		StabilityLevel: metrics.ALPHA,
	})
	EtcdDBInUse = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "etcd_db_size_in_use_bytes",
		Help:           "Part of the embedded etcd's database file in use; the rest is free pages a defragmentation returns.",
		StabilityLevel: metrics.ALPHA,
	})
	EtcdQuota = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "etcd_quota_bytes",
		Help:           "Database size at which the embedded etcd refuses every write (its quota).",
		StabilityLevel: metrics.ALPHA,
	})
	// EtcdDefrags counts the embedded etcd's defragmentations, by result.
	EtcdDefrags = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "etcd_defragmentations_total",
		Help:           "Defragmentations of the embedded etcd's database, by result (success or error).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})

	// PolicyEvaluation is the time the approver spends deciding one CSR by policy.
	PolicyEvaluation = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      namespace,
		Name:           "policy_evaluation_duration_seconds",
		Help:           "Time to evaluate every approval policy for one CSR.",
		Buckets:        metrics.ExponentialBuckets(0.0001, 2, 14),
		StabilityLevel: metrics.ALPHA,
	})
)

// Revocation metrics, recorded by the revocation publisher (pkg/controller/publisher),
// which runs on every replica: each replica reports them for its own CRLs and OCSP
// answers. The revoked and expiring certificates themselves are counted from the
// inventory at scrape time (inventory.go).
var (
	// Revocations counts the revocations the publisher saw happen: an IssuedCertificate
	// revoked, or its certificateHold turned into another reason, while this process
	// watched the inventory. Revocations already in the inventory when it starts are not
	// counted (kcsr_revoked_certificates has them), so a restart starts from zero and
	// every replica counts each revocation once.
	Revocations = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "revocations_total",
		Help:           "Revocations seen since this process started, by RFC 5280 reason.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})

	// CRLSize is the size of the CRL last generated for a CA, DER bytes.
	CRLSize = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "crl_size_bytes",
		Help:           "Size in bytes (DER) of the CRL served for the CA.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca"})

	// CRLEntries is the number of revoked certificates the CRL lists.
	CRLEntries = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "crl_entries",
		Help:           "Revoked certificates listed in the CRL served for the CA (expired ones are left out).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca"})

	// CRLThisUpdate is the thisUpdate of the CRL served: time() minus it is the CRL's age.
	CRLThisUpdate = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "crl_this_update_timestamp_seconds",
		Help:           "thisUpdate of the CRL served for the CA, Unix seconds.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca"})

	// CRLNextUpdate is the nextUpdate of the CRL served: past it, relying parties refuse
	// the CRL.
	CRLNextUpdate = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      namespace,
		Name:           "crl_next_update_timestamp_seconds",
		Help:           "nextUpdate of the CRL served for the CA, Unix seconds.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca"})

	// CRLErrors counts failed CRL generations (retried every second).
	CRLErrors = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "crl_generation_errors_total",
		Help:           "CRL generations that failed and will be retried, by CA.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca"})

	// OCSPResponses counts OCSP requests by CA and what they were answered:
	// good, revoked, unknown, unauthorized (about another CA's certificate), malformed
	// (unreadable, or a wrong method or Content-Type), error (signing failed).
	OCSPResponses = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      namespace,
		Name:           "ocsp_responses_total",
		Help:           "OCSP requests answered, by CA and status: good, revoked, unknown, unauthorized, malformed, error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"ca", "status"})
)

var once sync.Once

// Register adds kcsr's metrics to the legacy registry that /metrics serves.
func Register() {
	once.Do(func() {
		legacyregistry.MustRegister(CSRs, TimeToDecision, TimeToIssue, SigningErrors, UpstreamRequests, EventsDropped, InventoryExpiredDeleted, InventoryOldestExpiry, InventoryLookups, EtcdDBSize, EtcdDBInUse, EtcdQuota, EtcdDefrags, PolicyEvaluation,
			Revocations, CRLSize, CRLEntries, CRLThisUpdate, CRLNextUpdate, CRLErrors, OCSPResponses)
		legacyregistry.CustomMustRegister(NewInventoryCollector(countRegisteredInventory), NewCSRCollector(listRegisteredCSRs))
	})
}

// Since returns the seconds from t to now, never negative.
func Since(t, now time.Time) float64 {
	if d := now.Sub(t).Seconds(); d > 0 {
		return d
	}
	return 0
}
