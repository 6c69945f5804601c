package policy

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// kubeletServingSpec is the kubelet-csr-approver case: a node may get a serving
// certificate for its own name, for host names under nodes.example.com and for IPs in
// 10.0.0.0/8.
func kubeletServingSpec() PolicySpec {
	return PolicySpec{
		SignerNames: []string{csr.KubeletServingSignerName},
		Rules: []Rule{
			{
				Name:       "own-node",
				Expression: "request.requester.username.startsWith('system:node:') && request.subject.commonName == request.requester.username",
				Message:    "a node may only ask for its own name",
			},
			{
				Name:       "hostnames",
				Expression: `request.dnsNames.all(d, d.matches('^[a-z0-9-]+\\.nodes\\.example\\.com$'))`,
				Message:    "DNS names must be <host>.nodes.example.com",
			},
			{
				Name:       "node-ips",
				Expression: "request.ipAddresses.all(ip, cidr('10.0.0.0/8').containsIP(ip))",
				Message:    "IP addresses must be in 10.0.0.0/8",
			},
		},
		Action: Approve,
	}
}

func TestEvaluate(t *testing.T) {
	developers := mustCompile(t, "developers", developersSpec())
	strict := developersSpec()
	strict.OnFailure = Deny
	developersStrict := mustCompile(t, "developers", strict)
	kubeletServing := mustCompile(t, "kubelet-serving", kubeletServingSpec())
	denyWildcards := mustCompile(t, "deny-wildcards", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "wildcard", Expression: "request.dnsNames.exists(d, d.startsWith('*.'))"}},
		Action:      Deny,
	})
	anySigner := func(name, expression string) *Policy {
		return mustCompile(t, name, PolicySpec{
			SignerNames: []string{csr.KubeAPIServerClientSignerName, "example.com/*"},
			Rules:       []Rule{{Name: name, Expression: expression}},
			Action:      Approve,
		})
	}

	alice := func() *csrBuilder {
		return clientCSR(t, "alice", []string{"developers"}, "alice", "developers", "system:authenticated").with(testkit.SetExpirationSeconds(3600))
	}
	cases := []struct {
		name   string
		policy *Policy
		req    *Request
		want   Verdict
	}{
		{
			name:   "developer asking for her own name is approved",
			policy: developers,
			req:    alice().request(t),
			want:   Verdict{Decision: Approve, Policy: "developers", Message: `policy "developers" approves: every rule holds`},
		},
		{
			name:   "developer asking for someone else's name is left to a person",
			policy: developers,
			req:    clientCSR(t, "bob", []string{"developers"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600)).request(t),
			want: Verdict{Decision: NoOpinion, Policy: "developers", Rule: "own-cn",
				Message: `policy "developers" has no opinion: rule "own-cn" is false: CN must be your own username (request.subject.commonName="bob", request.requester.username="alice")`},
		},
		{
			name:   "the same mismatch is denied when the policy says onFailure: Deny",
			policy: developersStrict,
			req:    clientCSR(t, "bob", []string{"developers"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600)).request(t),
			want: Verdict{Decision: Deny, Policy: "developers", Rule: "own-cn",
				Message: `policy "developers" denies: rule "own-cn" is false: CN must be your own username (request.subject.commonName="bob", request.requester.username="alice")`},
		},
		{
			name:   "a group the developer is not in",
			policy: developers,
			req:    clientCSR(t, "alice", []string{"developers", "admins"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600)).request(t),
			want: Verdict{Decision: NoOpinion, Policy: "developers", Rule: "own-groups",
				Message: `policy "developers" has no opinion: rule "own-groups" is false: every O must be one of your groups (request.requester.groups=["developers"], request.subject.organizations=["admins", "developers"])`},
		},
		{
			name:   "more than 24 hours",
			policy: developersStrict,
			req:    alice().with(testkit.SetExpirationSeconds(7 * 24 * 3600)).request(t),
			want: Verdict{Decision: Deny, Policy: "developers", Rule: "short-lived",
				Message: `policy "developers" denies: rule "short-lived" is false: ask for at most 24 hours (spec.expirationSeconds <= 86400) (request.expirationSeconds=604800)`},
		},
		{
			name:   "no expiration asked",
			policy: developers,
			req:    clientCSR(t, "alice", nil, "alice", "developers").request(t),
			want: Verdict{Decision: NoOpinion, Policy: "developers", Rule: "short-lived",
				Message: `policy "developers" has no opinion: rule "short-lived" is false: ask for at most 24 hours (spec.expirationSeconds <= 86400) (request.expirationSeconds=0)`},
		},
		{
			name:   "someone who is not a developer is not matched",
			policy: developersStrict,
			req:    clientCSR(t, "carol", nil, "carol", "ops").with(testkit.SetExpirationSeconds(3600)).request(t),
			want: Verdict{Decision: NoOpinion, Policy: "developers",
				Message: `policy "developers" has no opinion: its match expression is false (request.requester.groups=["ops"])`},
		},
		{
			name:   "another signer is not covered",
			policy: developers,
			req:    alice().with(testkit.SetSignerName("example.com/signer")).request(t),
			want: Verdict{Decision: NoOpinion, Policy: "developers",
				Message: `policy "developers" has no opinion: it does not cover signer "example.com/signer"`},
		},
		{
			name:   "kubelet serving: node names and IPs in range",
			policy: kubeletServing,
			req:    servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.1.2.3").request(t),
			want:   Verdict{Decision: Approve, Policy: "kubelet-serving", Message: `policy "kubelet-serving" approves: every rule holds`},
		},
		{
			name:   "kubelet serving: a host name outside the pattern",
			policy: kubeletServing,
			req:    servingCSR(t, "node-1", []string{"node-1.nodes.example.com", "evil.attacker.com"}, "10.1.2.3").request(t),
			want: Verdict{Decision: NoOpinion, Policy: "kubelet-serving", Rule: "hostnames",
				Message: `policy "kubelet-serving" has no opinion: rule "hostnames" is false: DNS names must be <host>.nodes.example.com (request.dnsNames=["node-1.nodes.example.com", "evil.attacker.com"])`},
		},
		{
			name:   "kubelet serving: an IP outside the range",
			policy: kubeletServing,
			req:    servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.1.2.3", "192.168.1.5").request(t),
			want: Verdict{Decision: NoOpinion, Policy: "kubelet-serving", Rule: "node-ips",
				Message: `policy "kubelet-serving" has no opinion: rule "node-ips" is false: IP addresses must be in 10.0.0.0/8 (request.ipAddresses=["10.1.2.3", "192.168.1.5"])`},
		},
		{
			name:   "kubelet serving: IPv6 is outside an IPv4 range",
			policy: kubeletServing,
			req:    servingCSR(t, "node-1", nil, "fd00::1").request(t),
			want: Verdict{Decision: NoOpinion, Policy: "kubelet-serving", Rule: "node-ips",
				Message: `policy "kubelet-serving" has no opinion: rule "node-ips" is false: IP addresses must be in 10.0.0.0/8 (request.ipAddresses=["fd00::1"])`},
		},
		{
			name:   "kubelet serving: another node's name",
			policy: kubeletServing,
			req: func() *Request {
				r := servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.1.2.3").request(t)
				r.Requester.Username = "system:node:node-2"
				return r
			}(),
			want: Verdict{Decision: NoOpinion, Policy: "kubelet-serving", Rule: "own-node",
				Message: `policy "kubelet-serving" has no opinion: rule "own-node" is false: a node may only ask for its own name (request.requester.username="system:node:node-2", request.subject.commonName="system:node:node-1")`},
		},
		{
			name:   "a deny policy whose rules hold names them with the values they read",
			policy: denyWildcards,
			req:    clientCSR(t, "web", nil, "alice").with(testkit.SetSignerName("example.com/web")).request(t),
			want: Verdict{Decision: NoOpinion, Policy: "deny-wildcards", Rule: "wildcard",
				Message: `policy "deny-wildcards" has no opinion: rule "wildcard" is false: request.dnsNames.exists(d, d.startsWith('*.')) (request.dnsNames=[])`},
		},
		{
			name:   "a deny policy whose rules hold",
			policy: denyWildcards,
			req: func() *Request {
				r := clientCSR(t, "web", nil, "alice").with(testkit.SetSignerName("example.com/web")).request(t)
				r.DNSNames = []string{"*.example.com"}
				return r
			}(),
			want: Verdict{Decision: Deny, Policy: "deny-wildcards",
				Message: `policy "deny-wildcards" denies: every rule holds: rule "wildcard" (request.dnsNames=["*.example.com"])`},
		},
		{
			name:   "a runtime error is no opinion, never approve",
			policy: anySigner("team", "request.requester.extra['team'][0] == 'platform'"),
			req:    alice().request(t),
			want: Verdict{Decision: NoOpinion, Policy: "team", Rule: "team",
				Message: `policy "team" has no opinion: rule "team" could not be evaluated: no such key: team`},
		},
		{
			name:   "extra is readable",
			policy: anySigner("team", "request.requester.extra['team'][0] == 'platform'"),
			req:    alice().with(testkit.SetExtra("team", "platform")).request(t),
			want:   Verdict{Decision: Approve, Policy: "team", Message: `policy "team" approves: every rule holds`},
		},
		{
			name:   "an expression cannot make request objects",
			policy: anySigner("forge", "kcsr.Key{algorithm: 'RSA'}.algorithm == 'RSA'"),
			req:    alice().request(t),
			want: Verdict{Decision: NoOpinion, Policy: "forge", Rule: "forge",
				Message: `policy "forge" has no opinion: rule "forge" could not be evaluated: kcsr.Key objects cannot be created in an expression`},
		},
		{
			name:   "a dynamic value that is not a bool",
			policy: anySigner("dyn", "dyn(request.subject.commonName)"),
			req:    alice().request(t),
			want: Verdict{Decision: NoOpinion, Policy: "dyn", Rule: "dyn",
				Message: `policy "dyn" has no opinion: rule "dyn" could not be evaluated: it returned string, not a bool`},
		},
		{
			name:   "a hostile expression is stopped by the cost limit",
			policy: anySigner("hostile", "lists.range(1000).map(i, lists.range(1000)).size() > 0"),
			req:    alice().request(t),
			want: Verdict{Decision: NoOpinion, Policy: "hostile", Rule: "hostile",
				Message: `policy "hostile" has no opinion: rule "hostile" could not be evaluated: it exceeded the cost limit of 100000 per expression; make the expression do less work`},
		},
		{
			name:   "key, signature and usages",
			policy: anySigner("crypto", "request.key.algorithm == 'ECDSA' && request.key.size == 384 && request.key.curve == 'P-384' && request.signatureAlgorithm == 'ECDSA-SHA384' && request.usages == ['digital signature', 'client auth']"),
			req:    alice().withKey(testkit.NewKey(t, testkit.P384)).request(t),
			want:   Verdict{Decision: Approve, Policy: "crypto", Message: `policy "crypto" approves: every rule holds`},
		},
		{
			name:   "a nil request",
			policy: developers,
			want: Verdict{Decision: NoOpinion, Policy: "developers",
				Message: `policy "developers" has no opinion: there is no request to evaluate`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.Evaluate(context.Background(), tc.req)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEvaluateNestedLoops shows nested loops, which cel-go's cost tracking makes slow, stopped
// by the cost limit or, on a loaded machine, by the time limit: either way without an
// opinion.
func TestEvaluateNestedLoops(t *testing.T) {
	p := mustCompile(t, "hostile", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "hostile", Expression: "lists.range(1000).all(i, lists.range(1000).filter(j, j > i).size() >= 0)"}},
		Action:      Approve,
	})
	got := p.Evaluate(context.Background(), &Request{SignerName: "example.com/x"})
	want := Verdict{Decision: NoOpinion, Policy: "hostile", Rule: "hostile",
		Message: `policy "hostile" has no opinion: rule "hostile" could not be evaluated: ` + errCostLimit.Error()}
	if got.Message == `policy "hostile" has no opinion: rule "hostile" could not be evaluated: `+errTimeout.Error() {
		want.Message = got.Message
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
}

func TestEvaluateCancelled(t *testing.T) {
	p := mustCompile(t, "loop", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "loop", Expression: "lists.range(1000).all(i, i >= 0)"}},
		Action:      Approve,
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := p.Evaluate(ctx, &Request{SignerName: "example.com/x"})
	want := Verdict{Decision: NoOpinion, Policy: "loop", Rule: "loop",
		Message: `policy "loop" has no opinion: rule "loop" could not be evaluated: operation interrupted: context canceled`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
}

// TestEvaluateTimeout shows the backstop to the cost limit: a request with so many names
// that a cheap loop over them is slow leaves the policy without an opinion.
func TestEvaluateTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("takes EvalTimeout")
	}
	p := mustCompile(t, "names", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "names", Expression: "request.dnsNames.all(d, d != '')"}},
		Action:      Approve,
	})
	r := &Request{SignerName: "example.com/x"}
	for i := range 24_000 {
		r.DNSNames = append(r.DNSNames, "n"+strconv.Itoa(i)+".example.com")
	}
	got := p.Evaluate(context.Background(), r)
	want := Verdict{Decision: NoOpinion, Policy: "names", Rule: "names",
		Message: `policy "names" has no opinion: rule "names" could not be evaluated: the policy took longer than 100ms to evaluate; make its expressions do less work`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
}

func TestDescribeReadsShortensLongLists(t *testing.T) {
	p := mustCompile(t, "p", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "few", Expression: "request.dnsNames.size() < 3 && request.requester.extra.size() == 0"}},
		Action:      Approve,
	})
	r := &Request{SignerName: "example.com/x", Requester: Requester{Extra: map[string][]string{"b": {"2"}, "a": {"1", "x"}}}}
	for i := range 12 {
		r.DNSNames = append(r.DNSNames, strconv.Itoa(i))
	}
	want := `policy "p" has no opinion: rule "few" is false: request.dnsNames.size() < 3 && request.requester.extra.size() == 0 (request.dnsNames=["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", … 2 more], request.requester.extra={"a": ["1", "x"], "b": ["2"]})`
	if diff := cmp.Diff(want, p.Evaluate(context.Background(), r).Message); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
}

// TestRequestInCEL reads every field of a request from CEL, as the typed object
// kcsr.Request, with plain, optional, dynamic and presence-testing access.
func TestRequestInCEL(t *testing.T) {
	r := &Request{
		SignerName:         "example.com/mtls",
		Subject:            Subject{CommonName: "alice", Organizations: []string{"developers"}, OrganizationalUnits: []string{}},
		DNSNames:           []string{"alice.example.com"},
		IPAddresses:        []string{"10.0.0.1"},
		URIs:               []string{"spiffe://example.com/alice"},
		EmailAddresses:     []string{"alice@example.com"},
		Key:                Key{Algorithm: "ECDSA", Size: 256, Curve: "P-256"},
		SignatureAlgorithm: "ECDSA-SHA256",
		Usages:             []string{"client auth"},
		ExpirationSeconds:  3600,
		Requester:          Requester{Username: "alice", UID: "u-1", Groups: []string{"developers"}, Extra: map[string][]string{"team": {"a", "b"}}},
	}
	expressions := []string{
		"request.signerName == 'example.com/mtls'",
		"request.subject.commonName == 'alice' && request.subject.organizations == ['developers'] && request.subject.organizationalUnits == []",
		"request.dnsNames == ['alice.example.com'] && request.ipAddresses == ['10.0.0.1']",
		"request.uris == ['spiffe://example.com/alice'] && request.emailAddresses == ['alice@example.com']",
		"request.key.algorithm == 'ECDSA' && request.key.size == 256 && request.key.curve == 'P-256'",
		"request.signatureAlgorithm == 'ECDSA-SHA256' && request.usages == ['client auth'] && request.expirationSeconds == 3600",
		"request.requester.username == 'alice' && request.requester.uid == 'u-1' && request.requester.groups == ['developers']",
		"request.requester.extra == {'team': ['a', 'b']} && request.requester.extra['team'][1] == 'b'",
		"has(request.subject.commonName) && !has(request.subject.organizationalUnits) && has(request.key)",
		"request.?subject.?commonName.orValue('') == 'alice' && request.requester.extra[?'nope'].orValue([]) == []",
		"dyn(request).subject.commonName == 'alice' && has(dyn(request).key.curve)",
		"type(request) == kcsr.Request && type(request.subject) == kcsr.Subject",
		"request.subject == request.subject",
	}
	for _, e := range expressions {
		t.Run(e, func(t *testing.T) {
			p := mustCompile(t, "p", PolicySpec{SignerNames: []string{"example.com/*"}, Rules: []Rule{{Name: "r", Expression: e}}, Action: Approve})
			want := Verdict{Decision: Approve, Policy: "p", Message: `policy "p" approves: every rule holds`}
			if diff := cmp.Diff(want, p.Evaluate(context.Background(), r)); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
		})
	}
}
