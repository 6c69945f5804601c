package policy

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// FuzzCompile checks that Compile never panics on hostile specs, that it returns either a
// policy or a *CompileError naming at least one field, and that a compiled policy evaluates
// without panicking to a well-formed verdict. The seed corpus is in testdata/fuzz.
func FuzzCompile(f *testing.F) {
	f.Add("developers", "kubernetes.io/kube-apiserver-client", "'developers' in request.requester.groups",
		"request.subject.commonName == request.requester.username", "Approve", "")
	f.Add("kubelet-serving", "kubernetes.io/kubelet-serving", "",
		`request.dnsNames.all(d, d.matches('^[a-z0-9-]+\\.nodes\\.example\\.com$'))`, "Approve", "Deny")
	f.Add("p", "example.com/*", "", "request.ipAddresses.all(ip, cidr('10.0.0.0/8').containsIP(ip))", "Deny", "NoOpinion")
	f.Add("", "", "request.", "requst.x ==", "Maybe", "Approve")
	f.Add("p", "example.com/s", "", "lists.range(1000).map(i, lists.range(1000)).size() > 0", "Approve", "")

	req := &Request{
		SignerName:  "kubernetes.io/kube-apiserver-client",
		Subject:     Subject{CommonName: "alice", Organizations: []string{"developers"}},
		DNSNames:    []string{"alice.nodes.example.com"},
		IPAddresses: []string{"10.0.0.1", "fd00::1"},
		Key:         Key{Algorithm: KeyAlgorithmECDSA, Size: 256, Curve: "P-256"},
		Usages:      []string{"digital signature", "client auth"},
		Requester:   Requester{Username: "alice", Groups: []string{"developers"}, Extra: map[string][]string{"team": {"a"}}},
	}
	f.Fuzz(func(t *testing.T, name, signerName, match, expression, action, onFailure string) {
		spec := PolicySpec{
			SignerNames: []string{signerName},
			Match:       match,
			Rules:       []Rule{{Name: "rule", Expression: expression}},
			Action:      Action(action),
			OnFailure:   Action(onFailure),
		}
		p, err := Compile(name, spec)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) || len(ce.Errors) == 0 {
				t.Fatalf("Compile error %v is not a *CompileError with field errors", err)
			}
			if p != nil {
				t.Fatalf("Compile returned both a policy and an error")
			}
			return
		}
		if p == nil {
			t.Fatalf("Compile returned neither a policy nor an error")
		}
		r := *req
		r.SignerName = signerName
		v := p.Evaluate(context.Background(), &r)
		if v.Policy != name {
			t.Errorf("verdict names policy %q, want %q", v.Policy, name)
		}
		switch v.Decision {
		case Approve:
			want := Verdict{Decision: Approve, Policy: name, Message: fmt.Sprintf("policy %q approves: every rule holds", name)}
			if v != want || spec.Action != Approve {
				t.Errorf("approval %+v for action %q, want %+v", v, spec.Action, want)
			}
		case Deny, NoOpinion:
		default:
			t.Errorf("verdict %+v has no decision", v)
		}
		if v.Message == "" {
			t.Errorf("verdict %+v has no message", v)
		}
	})
}
