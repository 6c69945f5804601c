package issuance

import (
	"context"
	"crypto/x509"
	"sort"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/labels"

	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/policy"
)

// PolicyEngine decides CSRs with the ApprovalPolicies of a lister, compiling each policy
// once per resourceVersion.
type PolicyEngine struct {
	Lister     kcsrlisters.ApprovalPolicyLister
	GuardRails policy.GuardRails

	mu    sync.Mutex
	cache map[string]compiled
}

type compiled struct {
	resourceVersion string
	policy          *policy.Policy
	err             error
}

// Policies returns the compiled policies, skipping (and reporting) any that no longer
// compile (they were refused at create, so this only happens across upgrades).
func (e *PolicyEngine) Policies() ([]*policy.Policy, error) {
	objs, err := e.Lister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cache == nil {
		e.cache = map[string]compiled{}
	}
	seen := map[string]bool{}
	out := make([]*policy.Policy, 0, len(objs))
	for _, obj := range objs {
		seen[obj.Name] = true
		c, ok := e.cache[obj.Name]
		if !ok || c.resourceVersion != obj.ResourceVersion {
			p, err := policy.Compile(obj.Name, obj.Spec)
			c = compiled{resourceVersion: obj.ResourceVersion, policy: p, err: err}
			e.cache[obj.Name] = c
		}
		if c.err == nil {
			out = append(out, c.policy)
		}
	}
	for name := range e.cache {
		if !seen[name] {
			delete(e.cache, name)
		}
	}
	return out, nil
}

// Decide is the Decider's PolicyFunc: the policies, then the guard rails.
func (e *PolicyEngine) Decide(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, x509req *x509.CertificateRequest) (Decision, error) {
	policies, err := e.Policies()
	if err != nil {
		return Decision{}, err
	}
	req, err := policy.NewRequestFor(obj, x509req)
	if err != nil {
		return Decision{}, nil
	}
	start := time.Now()
	final, _ := policy.Decide(ctx, policies, e.GuardRails, req)
	metrics.PolicyEvaluation.Observe(time.Since(start).Seconds())
	return toDecision(final), nil
}

// GuardRailVerdict applies the guard rails alone (for join tokens, which bypass policies).
func (e *PolicyEngine) GuardRailVerdict(ctx context.Context, obj *certificatesv1.CertificateSigningRequest) (Decision, error) {
	req, err := policy.NewRequest(obj)
	if err != nil {
		return Decision{}, err
	}
	final, _ := policy.Decide(ctx, nil, e.GuardRails, req)
	if final.Rule == "" {
		return Decision{}, nil
	}
	return toDecision(final), nil
}

func toDecision(v policy.Verdict) Decision {
	reason := ReasonGuardRail
	if v.Policy != "" {
		reason = ReasonPolicyPrefix + v.Policy
	}
	switch v.Decision {
	case policy.Approve:
		return Decision{Approve: true, Reason: reason, Message: v.Message}
	case policy.Deny:
		return Decision{Deny: true, Reason: reason, Message: v.Message}
	}
	return Decision{Message: v.Message}
}
