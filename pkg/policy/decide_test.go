package policy

import (
	"context"
	"crypto/x509"
	"net/url"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

func TestDecide(t *testing.T) {
	developers := mustCompile(t, "developers", developersSpec())
	approveAll := mustCompile(t, "approve-all", PolicySpec{
		SignerNames: []string{csr.KubeAPIServerClientSignerName, csr.KubeletServingSignerName},
		Rules:       []Rule{{Name: "anything", Expression: "true"}},
		Action:      Approve,
	})
	denyContractors := mustCompile(t, "deny-contractors", PolicySpec{
		SignerNames: []string{csr.KubeAPIServerClientSignerName},
		Match:       "'contractors' in request.requester.groups",
		Rules:       []Rule{{Name: "contractor", Expression: "true"}},
		Action:      Deny,
	})
	denyMasters := mustCompile(t, "deny-masters", PolicySpec{
		SignerNames: []string{csr.KubeAPIServerClientSignerName},
		Rules:       []Rule{{Name: "masters", Expression: "'system:masters' in request.subject.organizations"}},
		Action:      Deny,
	})
	kubeletServing := mustCompile(t, "kubelet-serving", kubeletServingSpec())
	broken := mustCompile(t, "broken", PolicySpec{
		SignerNames: []string{csr.KubeAPIServerClientSignerName},
		Rules:       []Rule{{Name: "team", Expression: "request.requester.extra['team'] == ['a']"}},
		Action:      Approve,
	})
	otherSigner := mustCompile(t, "other-signer", PolicySpec{
		SignerNames: []string{"example.com/*"},
		Rules:       []Rule{{Name: "r", Expression: "true"}},
		Action:      Approve,
	})
	all := []*Policy{otherSigner, developers, kubeletServing, approveAll}

	alice := func() *csrBuilder {
		return clientCSR(t, "alice", []string{"developers"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600))
	}
	approvedByDevelopers := Verdict{Decision: Approve, Policy: "developers", Message: `policy "developers" approves: every rule holds`}
	approvedByAll := Verdict{Decision: Approve, Policy: "approve-all", Message: `policy "approve-all" approves: every rule holds`}
	const rsa1024Message = `RSA keys must be at least 2048 bits; this request has a 1024-bit key: generate a new key with "openssl genrsa -out tls.key 2048" or use ECDSA P-256`

	cases := []struct {
		name      string
		policies  []*Policy
		guard     *GuardRails // nil: DefaultGuardRails
		req       *Request
		wantFinal Verdict
		wantAll   []Verdict
	}{
		{
			name:      "the developers policy approves; policies of other signers are not listed",
			policies:  []*Policy{otherSigner, developers, kubeletServing},
			req:       alice().request(t),
			wantFinal: approvedByDevelopers,
			wantAll:   []Verdict{approvedByDevelopers},
		},
		{
			name:      "deny wins over approve",
			policies:  []*Policy{developers, denyContractors, approveAll},
			req:       clientCSR(t, "alice", []string{"developers"}, "alice", "developers", "contractors").with(testkit.SetExpirationSeconds(3600)).request(t),
			wantFinal: Verdict{Decision: Deny, Policy: "deny-contractors", Message: `policy "deny-contractors" denies: every rule holds: rule "contractor"`},
			wantAll: []Verdict{
				approvedByAll,
				{Decision: Deny, Policy: "deny-contractors", Message: `policy "deny-contractors" denies: every rule holds: rule "contractor"`},
				approvedByDevelopers,
			},
		},
		{
			name:     "nothing decides: each policy considered says why",
			policies: []*Policy{developers, denyContractors, broken},
			req:      clientCSR(t, "bob", []string{"developers"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600)).request(t),
			wantFinal: Verdict{Decision: NoOpinion, Message: `no policy covering signer "kubernetes.io/kube-apiserver-client" approves or denies this request (3 policies considered), so a person must decide: ` +
				`policy "broken" has no opinion: rule "team" could not be evaluated: no such key: team; ` +
				`policy "deny-contractors" has no opinion: its match expression is false (request.requester.groups=["developers"]); ` +
				`policy "developers" has no opinion: rule "own-cn" is false: CN must be your own username (request.subject.commonName="bob", request.requester.username="alice")`},
			wantAll: []Verdict{
				{Decision: NoOpinion, Policy: "broken", Rule: "team", Message: `policy "broken" has no opinion: rule "team" could not be evaluated: no such key: team`},
				{Decision: NoOpinion, Policy: "deny-contractors", Message: `policy "deny-contractors" has no opinion: its match expression is false (request.requester.groups=["developers"])`},
				{Decision: NoOpinion, Policy: "developers", Rule: "own-cn", Message: `policy "developers" has no opinion: rule "own-cn" is false: CN must be your own username (request.subject.commonName="bob", request.requester.username="alice")`},
			},
		},
		{
			name:     "one policy considered",
			policies: []*Policy{developers},
			req:      clientCSR(t, "carol", nil, "carol", "ops").request(t),
			wantFinal: Verdict{Decision: NoOpinion, Message: `no policy covering signer "kubernetes.io/kube-apiserver-client" approves or denies this request (1 policy considered), so a person must decide: ` +
				`policy "developers" has no opinion: its match expression is false (request.requester.groups=["ops"])`},
			wantAll: []Verdict{
				{Decision: NoOpinion, Policy: "developers", Message: `policy "developers" has no opinion: its match expression is false (request.requester.groups=["ops"])`},
			},
		},
		{
			name:     "no policy covers the signer",
			policies: []*Policy{developers, kubeletServing},
			req:      clientCSR(t, "svc", nil, "alice").with(testkit.SetSignerName("example.org/internal")).request(t),
			wantFinal: Verdict{Decision: NoOpinion,
				Message: `no approval policy covers signer "example.org/internal", so a person must approve or deny this request (or an administrator can add the signer to a policy's signerNames)`},
			wantAll: []Verdict{},
		},
		{
			name:     "system:masters is never approved, whatever the policies say",
			policies: all,
			req:      clientCSR(t, "alice", []string{"system:masters"}, "alice", "system:masters").with(testkit.SetExpirationSeconds(3600)).request(t),
			wantFinal: Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups,
				Message: `guard rail protectedGroups: a kubernetes.io/kube-apiserver-client certificate for the protected group "system:masters" is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it`},
			wantAll: []Verdict{
				approvedByAll,
				{Decision: NoOpinion, Policy: "developers", Message: `policy "developers" has no opinion: its match expression is false (request.requester.groups=["system:masters"])`},
			},
		},
		{
			name:     "system:masters stays protected even when the configuration forgets it",
			policies: []*Policy{approveAll},
			guard:    &GuardRails{ProtectedGroups: []string{"platform-admins"}},
			req:      clientCSR(t, "alice", []string{"system:masters"}, "alice").request(t),
			wantFinal: Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups,
				Message: `guard rail protectedGroups: a kubernetes.io/kube-apiserver-client certificate for the protected group "system:masters" is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it`},
			wantAll: []Verdict{approvedByAll},
		},
		{
			name:     "a configured protected group",
			policies: []*Policy{approveAll},
			guard:    &GuardRails{ProtectedGroups: []string{"platform-admins"}},
			req:      clientCSR(t, "alice", []string{"developers", "platform-admins"}, "alice").request(t),
			wantFinal: Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups,
				Message: `guard rail protectedGroups: a kubernetes.io/kube-apiserver-client certificate for the protected group "platform-admins" is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it`},
			wantAll: []Verdict{approvedByAll},
		},
		{
			name:     "a policy may still deny a protected group",
			policies: []*Policy{approveAll, denyMasters},
			req:      clientCSR(t, "alice", []string{"system:masters"}, "alice").request(t),
			wantFinal: Verdict{Decision: Deny, Policy: "deny-masters",
				Message: `policy "deny-masters" denies: every rule holds: rule "masters" (request.subject.organizations=["system:masters"])`},
			wantAll: []Verdict{
				approvedByAll,
				{Decision: Deny, Policy: "deny-masters", Message: `policy "deny-masters" denies: every rule holds: rule "masters" (request.subject.organizations=["system:masters"])`},
			},
		},
		{
			name:     "system:masters is protected for a custom login signer",
			policies: []*Policy{otherSigner},
			guard:    &GuardRails{LoginSigners: []string{"example.com/ops"}},
			req:      clientCSR(t, "alice", []string{"system:masters"}, "alice").with(testkit.SetSignerName("example.com/ops")).request(t),
			wantFinal: Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups,
				Message: `guard rail protectedGroups: a example.com/ops certificate for the protected group "system:masters" is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it`},
			wantAll: []Verdict{{Decision: Approve, Policy: "other-signer", Message: `policy "other-signer" approves: every rule holds`}},
		},
		{
			name:     "a configured protected group is protected for a custom login signer",
			policies: []*Policy{otherSigner},
			guard:    &GuardRails{ProtectedGroups: []string{"platform-admins"}, LoginSigners: []string{"example.com/ops"}},
			req:      clientCSR(t, "alice", []string{"platform-admins"}, "alice").with(testkit.SetSignerName("example.com/ops")).request(t),
			wantFinal: Verdict{Decision: NoOpinion, Rule: GuardRailProtectedGroups,
				Message: `guard rail protectedGroups: a example.com/ops certificate for the protected group "platform-admins" is never approved automatically, whatever the policies say; a cluster administrator must approve or deny it`},
			wantAll: []Verdict{{Decision: Approve, Policy: "other-signer", Message: `policy "other-signer" approves: every rule holds`}},
		},
		{
			name:      "the protected group guard rail is for login signers only",
			policies:  []*Policy{otherSigner},
			guard:     &GuardRails{LoginSigners: []string{"example.com/ops"}},
			req:       clientCSR(t, "alice", []string{"system:masters"}, "alice").with(testkit.SetSignerName("example.com/mtls")).request(t),
			wantFinal: Verdict{Decision: Approve, Policy: "other-signer", Message: `policy "other-signer" approves: every rule holds`},
			wantAll:   []Verdict{{Decision: Approve, Policy: "other-signer", Message: `policy "other-signer" approves: every rule holds`}},
		},
		{
			name:      "an RSA-1024 key is denied, whatever the policies say",
			policies:  all,
			req:       alice().withKey(testkit.SharedKey(t, testkit.RSA1024)).request(t),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailMinRSABits, Message: rsa1024Message},
			wantAll:   []Verdict{approvedByAll, approvedByDevelopers},
		},
		{
			name:      "an RSA-2048 key is fine",
			policies:  []*Policy{developers},
			req:       alice().withKey(testkit.SharedKey(t, testkit.RSA2048)).request(t),
			wantFinal: approvedByDevelopers,
			wantAll:   []Verdict{approvedByDevelopers},
		},
		{
			name:     "a configured RSA minimum",
			policies: []*Policy{developers},
			guard:    &GuardRails{MinRSABits: 3072},
			req:      alice().withKey(testkit.SharedKey(t, testkit.RSA2048)).request(t),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailMinRSABits,
				Message: `RSA keys must be at least 3072 bits; this request has a 2048-bit key: generate a new key with "openssl genrsa -out tls.key 3072" or use ECDSA P-256`},
			wantAll: []Verdict{approvedByDevelopers},
		},
		{
			name:     "a curve that is not allowed",
			policies: []*Policy{developers},
			req:      alice().withKey(testkit.NewKey(t, testkit.P224)).request(t),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailAllowedCurves,
				Message: `ECDSA keys must use one of the curves P-256, P-384, P-521; this request has a P-224 key: generate a new key with "openssl ecparam -name prime256v1 -genkey -noout -out tls.key"`},
			wantAll: []Verdict{approvedByDevelopers},
		},
		{
			name:      "Ed25519 is fine",
			policies:  []*Policy{developers},
			req:       alice().withKey(testkit.NewKey(t, testkit.Ed25519)).request(t),
			wantFinal: approvedByDevelopers,
			wantAll:   []Verdict{approvedByDevelopers},
		},
		{
			name:     "a SHA-1 signature is denied",
			policies: []*Policy{developers},
			req:      alice().withKey(testkit.SharedKey(t, testkit.RSA2048)).withSignatureAlgorithm(x509.SHA1WithRSA).request(t),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailRefuseSHA1,
				Message: `requests signed with SHA-1 are refused; this request is signed with SHA1-RSA: sign it again with SHA-256 (openssl req -new -sha256)`},
			wantAll: []Verdict{approvedByDevelopers},
		},
		{
			name:      "SHA-1 allowed by configuration",
			policies:  []*Policy{developers},
			guard:     &GuardRails{},
			req:       alice().withKey(testkit.SharedKey(t, testkit.RSA2048)).withSignatureAlgorithm(x509.SHA1WithRSA).request(t),
			wantFinal: approvedByDevelopers,
			wantAll:   []Verdict{approvedByDevelopers},
		},
		{
			name:     "an MD5 signature is always denied",
			policies: []*Policy{developers},
			guard:    &GuardRails{},
			req: func() *Request {
				// x509 neither creates nor verifies MD5 signatures: build the request as a
				// caller that decoded it elsewhere would.
				r := alice().withKey(testkit.SharedKey(t, testkit.RSA2048)).request(t)
				r.SignatureAlgorithm = x509.MD5WithRSA.String()
				return r
			}(),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailInsecureSignature,
				Message: `requests signed with MD5 or MD2 are refused; this request is signed with MD5-RSA: sign it again with SHA-256 (openssl req -new -sha256)`},
			wantAll: []Verdict{approvedByDevelopers},
		},
		{
			name:     "every problem is named, so that one new request fixes them all",
			policies: []*Policy{developers},
			req:      alice().withKey(testkit.SharedKey(t, testkit.RSA1024)).withSignatureAlgorithm(x509.SHA1WithRSA).request(t),
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailMinRSABits,
				Message: rsa1024Message + `; requests signed with SHA-1 are refused; this request is signed with SHA1-RSA: sign it again with SHA-256 (openssl req -new -sha256)`},
			wantAll: []Verdict{approvedByDevelopers},
		},
		{
			name:     "an unknown key algorithm is denied",
			policies: []*Policy{},
			req:      &Request{SignerName: "example.com/x", Key: Key{Algorithm: "ML-DSA-65"}, SignatureAlgorithm: "ML-DSA-65"},
			wantFinal: Verdict{Decision: Deny, Rule: GuardRailKeyAlgorithm,
				Message: `key algorithm "ML-DSA-65" is not supported: generate an ECDSA P-256, RSA or Ed25519 key`},
			wantAll: []Verdict{},
		},
		{
			name:      "kubelet serving: the node's names are approved",
			policies:  all,
			req:       servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.0.0.7").request(t),
			wantFinal: Verdict{Decision: Approve, Policy: "approve-all", Message: `policy "approve-all" approves: every rule holds`},
			wantAll: []Verdict{
				approvedByAll,
				{Decision: Approve, Policy: "kubelet-serving", Message: `policy "kubelet-serving" approves: every rule holds`},
			},
		},
		{
			name:     "kubelet serving: an outsider's name is left unapproved",
			policies: []*Policy{kubeletServing, developers},
			req:      servingCSR(t, "node-1", []string{"kubernetes.default.svc"}, "10.0.0.7").request(t),
			wantFinal: Verdict{Decision: NoOpinion, Message: `no policy covering signer "kubernetes.io/kubelet-serving" approves or denies this request (1 policy considered), so a person must decide: ` +
				`policy "kubelet-serving" has no opinion: rule "hostnames" is false: DNS names must be <host>.nodes.example.com (request.dnsNames=["kubernetes.default.svc"])`},
			wantAll: []Verdict{
				{Decision: NoOpinion, Policy: "kubelet-serving", Rule: "hostnames", Message: `policy "kubelet-serving" has no opinion: rule "hostnames" is false: DNS names must be <host>.nodes.example.com (request.dnsNames=["kubernetes.default.svc"])`},
			},
		},
		{
			name:      "a nil request",
			policies:  all,
			wantFinal: Verdict{Decision: NoOpinion, Message: "there is no request to decide on"},
			wantAll:   []Verdict{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			guard := DefaultGuardRails()
			if tc.guard != nil {
				guard = *tc.guard
			}
			final, all := Decide(context.Background(), tc.policies, guard, tc.req)
			if diff := cmp.Diff(tc.wantFinal, final); diff != "" {
				t.Errorf("final verdict (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAll, all); diff != "" {
				t.Errorf("every verdict (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecideConcurrently(t *testing.T) {
	policies := []*Policy{mustCompile(t, "developers", developersSpec()), mustCompile(t, "kubelet-serving", kubeletServingSpec())}
	reqs := []*Request{
		clientCSR(t, "alice", []string{"developers"}, "alice", "developers").with(testkit.SetExpirationSeconds(3600)).request(t),
		servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.0.0.7").request(t),
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 50 {
				if final, _ := Decide(context.Background(), policies, DefaultGuardRails(), reqs[i%2]); final.Decision != Approve {
					t.Errorf("Decide = %+v, want Approve", final)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewRequest(t *testing.T) {
	b := clientCSR(t, "alice", []string{"developers", "admins"}, "alice", "developers", "system:authenticated").
		withKey(testkit.SharedKey(t, testkit.RSA2048)).with(testkit.SetExpirationSeconds(3600)).with(testkit.SetExtra("team", "platform", "security"))
	b.tmpl.Subject.OrganizationalUnit = []string{"payments"}
	b.tmpl.DNSNames = []string{"alice.example.com"}
	b.tmpl.EmailAddresses = []string{"alice@example.com"}
	b.tmpl.URIs = []*url.URL{{Scheme: "spiffe", Host: "example.com", Path: "/ns/dev/sa/alice"}}
	got := b.request(t)
	want := &Request{
		SignerName: csr.KubeAPIServerClientSignerName,
		Subject: Subject{
			CommonName:          "alice",
			Organizations:       []string{"admins", "developers"},
			OrganizationalUnits: []string{"payments"},
		},
		DNSNames:           []string{"alice.example.com"},
		IPAddresses:        []string{},
		URIs:               []string{"spiffe://example.com/ns/dev/sa/alice"},
		EmailAddresses:     []string{"alice@example.com"},
		Key:                Key{Algorithm: "RSA", Size: 2048},
		SignatureAlgorithm: "SHA256-RSA",
		Usages:             []string{"digital signature", "client auth"},
		ExpirationSeconds:  3600,
		Requester: Requester{
			Username: "alice",
			UID:      "uid-alice",
			Groups:   []string{"developers", "system:authenticated"},
			Extra:    map[string][]string{"team": {"platform", "security"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewRequest (-want +got):\n%s", diff)
	}

	serving := servingCSR(t, "node-1", []string{"node-1.nodes.example.com"}, "10.0.0.7", "fd00::7").withKey(testkit.NewKey(t, testkit.Ed25519)).request(t)
	if diff := cmp.Diff([]string{"10.0.0.7", "fd00::7"}, serving.IPAddresses); diff != "" {
		t.Errorf("IP addresses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Key{Algorithm: "Ed25519", Size: 256}, serving.Key); diff != "" {
		t.Errorf("Ed25519 key (-want +got):\n%s", diff)
	}
	p521 := clientCSR(t, "x", nil, "x").withKey(testkit.NewKey(t, testkit.P521)).request(t)
	if diff := cmp.Diff(Key{Algorithm: "ECDSA", Size: 521, Curve: "P-521"}, p521.Key); diff != "" {
		t.Errorf("P-521 key (-want +got):\n%s", diff)
	}
}

func TestNewRequestErrors(t *testing.T) {
	cases := []struct {
		name    string
		obj     *certificatesv1.CertificateSigningRequest
		wantErr string
	}{
		{name: "nil", wantErr: "no CertificateSigningRequest to decode"},
		{
			name:    "not PEM",
			obj:     &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{Request: []byte("garbage")}},
			wantErr: "spec.request: PEM block type must be CERTIFICATE REQUEST",
		},
		{
			name: "a broken self-signature",
			obj: func() *certificatesv1.CertificateSigningRequest {
				obj := clientCSR(t, "alice", nil, "alice").object(t)
				r, _ := csr.ParseRequest(obj.Spec.Request)
				tampered := append([]byte{}, r.Raw...)
				tampered[len(tampered)-1] ^= 0xff
				obj.Spec.Request = testkit.PEM(testkit.RequestBlock, tampered)
				return obj
			}(),
			wantErr: "spec.request: x509: ECDSA verification failure",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRequest(tc.obj)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("NewRequest error (-want +got):\n%s", diff)
			}
			if r != nil {
				t.Errorf("NewRequest returned a request with an error")
			}
		})
	}
}

func TestGuardRailsValidate(t *testing.T) {
	cases := []struct {
		name    string
		g       GuardRails
		wantErr string
	}{
		{name: "defaults", g: DefaultGuardRails()},
		{name: "zero", g: GuardRails{}},
		{
			name:    "bad values",
			g:       GuardRails{MinRSABits: -1, AllowedCurves: []string{"P-256", "secp256k1"}, ProtectedGroups: []string{""}},
			wantErr: "minRSABits: -1 is negative; use 0 for no minimum, or 2048 or more\nallowedCurves[1]: \"secp256k1\" is not an ECDSA curve; use P-256, P-384 or P-521\nprotectedGroups[0]: a group name is required",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(tc.g.Validate())); diff != "" {
				t.Errorf("Validate (-want +got):\n%s", diff)
			}
		})
	}
}
