package policy

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/testkit"
)

// developersSpec is the issue-4 acceptance policy: developers may get client certificates
// for CN=<their own username>, O ⊆ their groups, for at most 24 hours.
func developersSpec() PolicySpec {
	return PolicySpec{
		SignerNames: []string{"kubernetes.io/kube-apiserver-client"},
		Match:       "'developers' in request.requester.groups",
		Rules: []Rule{
			{Name: "own-cn", Expression: "request.subject.commonName == request.requester.username", Message: "CN must be your own username"},
			{Name: "own-groups", Expression: "sets.contains(request.requester.groups, request.subject.organizations)", Message: "every O must be one of your groups"},
			{Name: "short-lived", Expression: "request.expirationSeconds > 0 && request.expirationSeconds <= duration('24h').getSeconds()", Message: "ask for at most 24 hours (spec.expirationSeconds <= 86400)"},
		},
		Action: Approve,
	}
}

func TestCompile(t *testing.T) {
	withRules := func(rules ...Rule) PolicySpec {
		return PolicySpec{SignerNames: []string{"example.com/signer"}, Rules: rules, Action: Approve}
	}
	cases := []struct {
		name    string
		policy  string
		spec    PolicySpec
		wantErr string
	}{
		{name: "developers", policy: "developers", spec: developersSpec()},
		{
			name:   "kubelet serving with hostname pattern and IP range",
			policy: "kubelet-serving",
			spec:   kubeletServingSpec(),
		},
		{
			name:   "every extension library",
			policy: "libraries",
			spec: withRules(
				Rule{Name: "strings", Expression: "request.subject.commonName.lowerAscii().trim().split(':').size() >= 1"},
				Rule{Name: "lists", Expression: "request.usages.sort().distinct().size() == request.usages.size()"},
				Rule{Name: "sets", Expression: "sets.intersects(request.usages, ['client auth', 'server auth'])"},
				Rule{Name: "network", Expression: "request.ipAddresses.all(a, isIP(a) && ip(a).family() == 4 && cidr('10.0.0.0/8').containsIP(a))"},
				Rule{Name: "regex", Expression: "regex.extract(request.signerName, '^([^/]+)/').orValue('') == 'example.com'"},
				Rule{Name: "bindings", Expression: "cel.bind(cn, request.subject.commonName, cn == '' || cn.size() < 64)"},
				Rule{Name: "two-variable comprehension", Expression: "request.requester.extra.all(k, v, v.size() > 0)"},
				Rule{Name: "optional", Expression: "request.requester.extra[?'team'].orValue([]).size() <= 1"},
				Rule{Name: "math", Expression: "math.greatest([request.key.size, 256]) >= 256"},
			),
		},
		{
			name:   "a domain wildcard and a Deny on failure",
			policy: "deny-foreign",
			spec: PolicySpec{
				SignerNames: []string{"example.com/*", "kubernetes.io/kubelet-serving"},
				Rules:       []Rule{{Name: "r", Expression: "true"}},
				Action:      Deny, OnFailure: Deny,
			},
		},
		{
			name:   "a misspelt variable keeps the CEL error and its position",
			policy: "developers",
			spec: withRules(
				Rule{Name: "short-lived", Expression: "request.expirationSeconds <= 86400"},
				Rule{Name: "own-cn", Expression: "request.subject.commonName == requst.requester.username"},
			),
			wantErr: `policy "developers": rules[1].expression "own-cn": ERROR: <input>:1:31: undeclared reference to 'requst'
 | request.subject.commonName == requst.requester.username
 | ..............................^
 the names a policy can read: request{signerName, subject{commonName, organizations, organizationalUnits}, dnsNames, ipAddresses, uris, emailAddresses, key{algorithm, size, curve}, signatureAlgorithm, usages, expirationSeconds, requester{username, uid, groups, extra}}`,
		},
		{
			name:    "a misspelt field",
			policy:  "p",
			spec:    withRules(Rule{Name: "cn", Expression: "request.subject.commonNme == 'x'"}),
			wantErr: "policy \"p\": rules[0].expression \"cn\": ERROR: <input>:1:16: undefined field 'commonNme'\n | request.subject.commonNme == 'x'\n | ...............^\n the names a policy can read: request{signerName, subject{commonName, organizations, organizationalUnits}, dnsNames, ipAddresses, uris, emailAddresses, key{algorithm, size, curve}, signatureAlgorithm, usages, expirationSeconds, requester{username, uid, groups, extra}}",
		},
		{
			name:    "a type mismatch",
			policy:  "p",
			spec:    withRules(Rule{Name: "size", Expression: "request.key.size >= '2048'"}),
			wantErr: "policy \"p\": rules[0].expression \"size\": ERROR: <input>:1:18: found no matching overload for '_>=_' applied to '(int, string)'\n | request.key.size >= '2048'\n | .................^",
		},
		{
			name:    "an invalid regular expression",
			policy:  "p",
			spec:    withRules(Rule{Name: "names", Expression: "request.dnsNames.all(d, d.matches('['))"}),
			wantErr: "policy \"p\": rules[0].expression \"names\": ERROR: <input>:1:35: invalid matches argument\n | request.dnsNames.all(d, d.matches('['))\n | ..................................^",
		},
		{
			name:    "an expression that is not a bool",
			policy:  "p",
			spec:    withRules(Rule{Name: "cn", Expression: "request.subject.commonName"}),
			wantErr: `policy "p": rules[0].expression "cn": the expression must evaluate to a bool, not string`,
		},
		{
			name:   "a broken match",
			policy: "p",
			spec: PolicySpec{
				SignerNames: []string{"example.com/signer"}, Match: "request.requester.groups.exists(g, g ==",
				Rules: []Rule{{Name: "r", Expression: "true"}}, Action: Approve,
			},
			wantErr: "policy \"p\": match: ERROR: <input>:1:40: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | request.requester.groups.exists(g, g ==\n | .......................................^",
		},
		{
			name:   "every problem at once",
			policy: "",
			spec: PolicySpec{
				SignerNames: []string{"example.com", "example.com/a", "example.com/a", "Example.com/b", "localhost/b", "example.com/a*", "*", "example.com/a/b"},
				Rules: []Rule{
					{Name: "", Expression: "true"},
					{Name: "twice", Expression: "true"},
					{Name: "twice", Expression: " "},
				},
				Action:    NoOpinion,
				OnFailure: Approve,
			},
			wantErr: `policy "": metadata.name: a policy needs a name
policy "": signerNames[0]: "example.com" is not a signer name; use "<domain>/<name>", such as "example.com/my-signer", or "<domain>/*" for every signer of a domain
policy "": signerNames[2]: "example.com/a" is already listed as signerNames[1]
policy "": signerNames[3]: "Example.com/b": the domain "Example.com" must be a lower-case DNS name with at least one dot, such as example.com
policy "": signerNames[4]: "localhost/b": the domain "localhost" must be a lower-case DNS name with at least one dot, such as example.com
policy "": signerNames[5]: "example.com/a*": only a whole name can be a wildcard; use "<domain>/<name>", such as "example.com/my-signer", or "<domain>/*" for every signer of a domain
policy "": signerNames[6]: "*" would cover every signer; use "<domain>/<name>", such as "example.com/my-signer", or "<domain>/*" for every signer of a domain
policy "": signerNames[7]: "example.com/a/b" is not a signer name; use "<domain>/<name>", such as "example.com/my-signer", or "<domain>/*" for every signer of a domain
policy "": rules[0].name: a rule needs a name, which verdicts show
policy "": rules[2].name "twice": is already the name of rules[1]; rule names must be unique
policy "": rules[2].expression "twice": an expression is required, such as request.subject.commonName == request.requester.username
policy "": action: "NoOpinion" is not an action; use Approve or Deny, taken when every rule holds
policy "": onFailure: "Approve" is not allowed; use NoOpinion (a person decides) or Deny, taken when a rule is false`,
		},
		{
			name:   "nothing at all",
			policy: "empty",
			spec:   PolicySpec{},
			wantErr: `policy "empty": signerNames: list at least one signer name, such as "example.com/my-signer", or "example.com/*" for every signer of a domain
policy "empty": rules: add at least one rule; a rule with expression "true" decides every request the policy matches
policy "empty": action: an action is required: Approve or Deny, taken when every rule holds`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.policy, tc.spec)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Fatalf("Compile error (-want +got):\n%s", diff)
			}
			if err != nil {
				if p != nil {
					t.Errorf("Compile returned a policy with an error")
				}
				var ce *CompileError
				if !errors.As(err, &ce) || len(ce.Errors) == 0 {
					t.Errorf("Compile error is %T, want a *CompileError with field errors", err)
				}
				return
			}
			if p.Name() != tc.policy {
				t.Errorf("Name() = %q, want %q", p.Name(), tc.policy)
			}
			if diff := cmp.Diff(tc.spec, p.Spec()); diff != "" {
				t.Errorf("Spec() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileFieldErrors(t *testing.T) {
	_, err := Compile("p", PolicySpec{
		SignerNames: []string{"example.com/signer"},
		Rules:       []Rule{{Name: "cn", Expression: "request.subject.commonName == 1"}},
		Action:      Approve,
	})
	var ce *CompileError
	if !errors.As(err, &ce) {
		t.Fatalf("Compile error = %v, want a *CompileError", err)
	}
	want := []FieldError{{
		Field:  "rules[0].expression",
		Rule:   "cn",
		Detail: "ERROR: <input>:1:28: found no matching overload for '_==_' applied to '(string, int)'\n | request.subject.commonName == 1\n | ...........................^",
	}}
	if diff := cmp.Diff(want, ce.Errors); diff != "" {
		t.Errorf("field errors (-want +got):\n%s", diff)
	}
	var fe FieldError
	if !errors.As(err, &fe) || fe.Field != "rules[0].expression" {
		t.Errorf("errors.As(err, FieldError) = %v, want the rule's error", fe)
	}
}

func TestCovers(t *testing.T) {
	p := mustCompile(t, "p", PolicySpec{
		SignerNames: []string{"kubernetes.io/kubelet-serving", "example.com/*"},
		Rules:       []Rule{{Name: "r", Expression: "true"}},
		Action:      Approve,
	})
	cases := []struct {
		signer string
		want   bool
	}{
		{"kubernetes.io/kubelet-serving", true},
		{"kubernetes.io/kube-apiserver-client", false},
		{"example.com/anything", true},
		{"example.com/", true},
		{"sub.example.com/anything", false},
		{"example.company/x", false},
		{"example.com", false},
	}
	for _, tc := range cases {
		t.Run(tc.signer, func(t *testing.T) {
			if got := p.Covers(tc.signer); got != tc.want {
				t.Errorf("Covers(%q) = %v, want %v", tc.signer, got, tc.want)
			}
		})
	}
}

func TestPolicySpecDeepCopy(t *testing.T) {
	in := developersSpec()
	out := in.DeepCopy()
	out.SignerNames[0] = "changed.example.com/x"
	out.Rules[0].Name = "changed"
	if diff := cmp.Diff(developersSpec(), in); diff != "" {
		t.Errorf("DeepCopy shares memory with its source (-want +got):\n%s", diff)
	}
	if (*PolicySpec)(nil).DeepCopy() != nil {
		t.Errorf("DeepCopy of nil is not nil")
	}
}

// errString returns err's text, or "" for nil, so that cases compare exact texts.
