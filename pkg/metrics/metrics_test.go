package metrics

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
)

// Register serves every kcsr_ metric on the legacy registry, named as docs/operations.md
// lists them, and the exposition passes Prometheus' lint.
func TestRegister(t *testing.T) {
	Register()
	Register() // twice is harmless
	CSRs.WithLabelValues("kubernetes.io/kube-apiserver-client", "created").Inc()
	TimeToDecision.WithLabelValues("kubernetes.io/kube-apiserver-client", "approved").Observe(1)
	TimeToIssue.WithLabelValues("kubernetes.io/kube-apiserver-client").Observe(1)
	SigningErrors.WithLabelValues("kubernetes.io/kube-apiserver-client").Inc()
	UpstreamRequests.WithLabelValues("example.com/step", "success").Observe(0.1)
	PolicyEvaluation.Observe(0.001)
	Revocations.WithLabelValues("keyCompromise").Inc()
	CRLSize.WithLabelValues("cluster").Set(100)
	CRLEntries.WithLabelValues("cluster").Set(1)
	CRLThisUpdate.WithLabelValues("cluster").Set(1)
	CRLNextUpdate.WithLabelValues("cluster").Set(2)
	CRLErrors.WithLabelValues("cluster").Inc()
	OCSPResponses.WithLabelValues("cluster", "good").Inc()
	defer SetInventorySource(func(inv *Inventory) bool {
		inv.Revoked("cluster", "keyCompromise", 1)
		inv.Live("kubernetes.io/kube-apiserver-client", time.Hour, false)
		return true
	})()

	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range families {
		if strings.HasPrefix(mf.GetName(), "kcsr_") {
			got = append(got, mf.GetName())
		}
	}
	want := []string{
		"kcsr_certificates_expiring",
		"kcsr_crl_entries",
		"kcsr_crl_generation_errors_total",
		"kcsr_crl_next_update_timestamp_seconds",
		"kcsr_crl_size_bytes",
		"kcsr_crl_this_update_timestamp_seconds",
		"kcsr_csr_time_to_decision_seconds",
		"kcsr_csr_time_to_issue_seconds",
		"kcsr_csr_total",
		"kcsr_ocsp_responses_total",
		"kcsr_policy_evaluation_duration_seconds",
		"kcsr_revocations_total",
		"kcsr_revoked_certificates",
		"kcsr_signing_errors_total",
		"kcsr_upstream_request_duration_seconds",
	}
	// Other files of this package may add metrics of their own: want must be there.
	var missing []string
	for _, name := range want {
		if !slices.Contains(got, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("not served: %v (served: %v)", missing, got)
	}

	var text bytes.Buffer
	for _, mf := range families {
		if slices.Contains(want, mf.GetName()) {
			if _, err := testutil.MetricFamilyToText(&text, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	problems, err := testutil.NewPromLinter(&text).Lint()
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Errorf("promlint: %v", problems)
	}
}

func TestSince(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	if got := Since(now.Add(-1500*time.Millisecond), now); got != 1.5 {
		t.Errorf("Since 1.5s ago = %v", got)
	}
	if got := Since(now.Add(time.Second), now); got != 0 {
		t.Errorf("Since a time to come = %v, want 0", got)
	}
}
