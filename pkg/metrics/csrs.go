package metrics

import (
	"sync/atomic"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/component-base/metrics"

	"kcsr.dev/kcsr/pkg/csr"
)

// kcsr_csrs counts the CSRs stored now, by signer and state, at scrape time, from the
// server's CSR informer cache, like the inventory gauges (inventory.go). The kcsr_csr_total
// counters say what this process saw happen and die with it; these gauges are the same on
// every replica and survive the loss of any of them, so after a failover they still add
// up: stored = pending + approved + denied, and approved = issued + failed + (approved,
// still being signed).

// CSRStates are the values of kcsr_csrs' state label.
var CSRStates = [...]string{"stored", "pending", "approved", "denied", "issued", "failed"}

const (
	stateStored = iota
	statePending
	stateApproved
	stateDenied
	stateIssued
	stateFailed
)

// CSRState returns the indexes into CSRStates that obj counts in: always stored, then
// pending, approved or denied, and for an approved one issued or failed as csr.StateOf
// says (Failed before Issued).
func CSRState(obj *certificatesv1.CertificateSigningRequest) []int {
	states := []int{stateStored}
	switch {
	case csr.IsDenied(obj):
		states = append(states, stateDenied)
	case csr.IsApproved(obj):
		states = append(states, stateApproved)
		switch csr.StateOf(obj) {
		case csr.Issued:
			states = append(states, stateIssued)
		case csr.Failed:
			states = append(states, stateFailed)
		}
	default:
		states = append(states, statePending)
	}
	return states
}

type csrCollector struct {
	metrics.BaseStableCollector
	list func() ([]*certificatesv1.CertificateSigningRequest, bool)
	desc *metrics.Desc
}

// NewCSRCollector returns the collector of kcsr_csrs; list returns the stored CSRs, and
// false while its cache is not loaded (then nothing is reported).
func NewCSRCollector(list func() ([]*certificatesv1.CertificateSigningRequest, bool)) metrics.StableCollector {
	return &csrCollector{
		list: list,
		desc: metrics.NewDesc(metrics.BuildFQName(namespace, "", "csrs"),
			"CertificateSigningRequests stored now, by signer name and state: stored (all), pending, approved, denied (these three partition stored), issued and failed (approved ones).",
			[]string{"signer_name", "state"}, nil, metrics.ALPHA, ""),
	}
}

func (c *csrCollector) DescribeWithStability(ch chan<- *metrics.Desc) { ch <- c.desc }

func (c *csrCollector) CollectWithStability(ch chan<- metrics.Metric) {
	csrs, ok := c.list()
	if !ok {
		return
	}
	counts := map[string]*[len(CSRStates)]int{}
	for _, obj := range csrs {
		n := counts[obj.Spec.SignerName]
		if n == nil {
			n = &[len(CSRStates)]int{}
			counts[obj.Spec.SignerName] = n
		}
		for _, s := range CSRState(obj) {
			n[s]++
		}
	}
	for signer, n := range counts {
		for s, v := range n {
			ch <- metrics.NewLazyConstMetric(c.desc, metrics.GaugeValue, float64(v), signer, CSRStates[s])
		}
	}
}

// csrSource is the list of the collector Register registers.
var csrSource atomic.Pointer[func() ([]*certificatesv1.CertificateSigningRequest, bool)]

// SetCSRSource makes list the source of kcsr_csrs; kcsr server sets its CSR informer's.
func SetCSRSource(list func() ([]*certificatesv1.CertificateSigningRequest, bool)) {
	csrSource.Store(&list)
}

func listRegisteredCSRs() ([]*certificatesv1.CertificateSigningRequest, bool) {
	if p := csrSource.Load(); p != nil {
		return (*p)()
	}
	return nil, false
}
