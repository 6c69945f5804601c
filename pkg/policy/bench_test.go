package policy

import (
	"context"
	"fmt"
	"testing"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// benchPolicies returns 100 varied policies. 34 cover kube-apiserver-client: 17
// developer policies that all match the benchmark's requester and evaluate every rule (the
// worst case), and 17 service-account deny policies whose match is false. The others cover
// kubelet-serving (33) and custom signers (33).
func benchPolicies(b *testing.B) []*Policy {
	b.Helper()
	policies := make([]*Policy, 0, 100)
	for i := range 100 {
		var spec PolicySpec
		switch {
		case i%3 == 0 && i%2 == 0:
			spec = developersSpec()
			spec.Match = fmt.Sprintf("'developers' in request.requester.groups || 'team-%d' in request.requester.groups", i)
		case i%3 == 0:
			spec = PolicySpec{
				SignerNames: []string{csr.KubeAPIServerClientSignerName},
				Match:       fmt.Sprintf("request.requester.username.startsWith('svc-%d-')", i),
				Rules: []Rule{
					{Name: "no-system-groups", Expression: "!request.subject.organizations.exists(o, o.startsWith('system:'))"},
					{Name: "no-wildcards", Expression: "!request.dnsNames.exists(d, d.contains('*'))"},
				},
				Action: Deny,
			}
		case i%3 == 1:
			spec = kubeletServingSpec()
		default:
			spec = PolicySpec{
				SignerNames: []string{fmt.Sprintf("team-%d.example.com/*", i)},
				Match:       "request.requester.groups.exists(g, g.startsWith('team-'))",
				Rules: []Rule{
					{Name: "spiffe", Expression: fmt.Sprintf("request.uris.all(u, u.startsWith('spiffe://example.com/ns/team-%d/'))", i)},
					{Name: "keys", Expression: "request.key.algorithm == 'ECDSA' || request.key.size >= 3072"},
				},
				Action: Approve,
			}
		}
		policies = append(policies, mustCompile(b, fmt.Sprintf("policy-%03d", i), spec))
	}
	return policies
}

// BenchmarkDecide100Policies is the issue-4 acceptance (f): the cost of deciding one CSR
// against 100 compiled policies, 34 of which cover its signer.
func BenchmarkDecide100Policies(b *testing.B) {
	policies := benchPolicies(b)
	req := clientCSR(b, "alice", []string{"developers"}, "alice", "developers", "team-6", "system:authenticated").
		with(testkit.SetExpirationSeconds(3600)).request(b)
	g := DefaultGuardRails()
	ctx := context.Background()
	final, all := Decide(ctx, policies, g, req)
	if final.Decision != Approve || len(all) != 34 {
		b.Fatalf("Decide = %+v over %d policies, want an approval over 34", final, len(all))
	}
	b.ReportAllocs()
	for b.Loop() {
		Decide(ctx, policies, g, req)
	}
}
