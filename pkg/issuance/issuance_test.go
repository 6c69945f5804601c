package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	clocktesting "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestDecide: kubelet client CSRs are approved as csrapproving does (selfnodeclient for a
// node renewing its own certificate, else nodeclient), only for the kubelet client
// signer and the kubelet's usages; everything else goes to the policies, whose decision
// (or silence) is the Decider's.
func TestDecide(t *testing.T) {
	kubeletUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	nodeRequest := testkit.ParsedRequest(t, testkit.Request(t, "system:node:worker-1", testkit.WithOrg("system:nodes")))
	kubeletCSR := func(username string) *certificatesv1.CertificateSigningRequest {
		return testkit.CSR("node-csr", testkit.SetSignerName(certificatesv1.KubeAPIServerClientKubeletSignerName), testkit.SetUsages(kubeletUsages...), testkit.SetUsername(username))
	}
	policyDecision := Decision{Approve: true, Reason: ReasonPolicyPrefix + "p", Message: "by policy"}
	cases := []struct {
		name    string
		obj     *certificatesv1.CertificateSigningRequest
		req     *x509.CertificateRequest
		allowed map[string]bool // subresource → SubjectAccessReview answer
		sarErr  error
		want    Decision
		wantErr string
		asked   []string
	}{
		{
			name: "a node renewing its own certificate", obj: kubeletCSR("system:node:worker-1"), req: nodeRequest,
			allowed: map[string]bool{"selfnodeclient": true},
			want:    Decision{Approve: true, Reason: ReasonAutoApproved, Message: "Auto approving self kubelet client certificate after SubjectAccessReview."},
			asked:   []string{"selfnodeclient"},
		},
		{
			name: "a bootstrapping node", obj: kubeletCSR("system:bootstrap:abcdef"), req: nodeRequest,
			allowed: map[string]bool{"nodeclient": true},
			want:    Decision{Approve: true, Reason: ReasonAutoApproved, Message: "Auto approving kubelet client certificate after SubjectAccessReview."},
			asked:   []string{"nodeclient"},
		},
		{
			name: "a node without the right falls through to the policies", obj: kubeletCSR("system:node:worker-1"), req: nodeRequest,
			want: policyDecision, asked: []string{"selfnodeclient", "nodeclient"},
		},
		{
			name: "another signer is not a kubelet client CSR", req: nodeRequest,
			obj:     testkit.CSR("c", testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName), testkit.SetUsages(kubeletUsages...), testkit.SetUsername("system:node:worker-1")),
			allowed: map[string]bool{"selfnodeclient": true, "nodeclient": true},
			want:    policyDecision,
		},
		{
			name: "a failing SubjectAccessReview is an error, not a decision", obj: kubeletCSR("system:node:worker-1"), req: nodeRequest,
			sarErr: errors.New("authorizer down"), wantErr: "authorizer down", asked: []string{"selfnodeclient"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			d := &Decider{
				Authorize: func(_ context.Context, _ *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
					asked = append(asked, subresource)
					return tc.allowed[subresource], tc.sarErr
				},
				Policies: func(context.Context, *certificatesv1.CertificateSigningRequest, *x509.CertificateRequest) (Decision, error) {
					return policyDecision, nil
				},
			}
			got, err := d.Decide(context.Background(), tc.obj, tc.req)
			if testkit.ErrString(err) != tc.wantErr {
				t.Fatalf("Decide() error = %v; want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
				t.Errorf("Decide() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.asked, asked); diff != "" {
				t.Errorf("SubjectAccessReviews (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecisionCondition: Deny wins, no opinion has no condition.
func TestDecisionCondition(t *testing.T) {
	for _, tc := range []struct {
		d    Decision
		want certificatesv1.RequestConditionType
	}{
		{Decision{Approve: true, Reason: "r"}, certificatesv1.CertificateApproved},
		{Decision{Deny: true, Reason: "r"}, certificatesv1.CertificateDenied},
		{Decision{Approve: true, Deny: true, Reason: "r"}, certificatesv1.CertificateDenied},
		{Decision{Message: "left to a person"}, ""},
	} {
		c, ok := tc.d.Condition()
		if ok != (tc.want != "") || c.Type != tc.want || (ok && (c.Status != "True" || c.Reason != tc.d.Reason)) {
			t.Errorf("%+v.Condition() = %+v, %v; want type %q", tc.d, c, ok, tc.want)
		}
	}
}

// TestSign: the signer's rules refuse with a RefusedError, an expired CA is an
// UnavailableError, and a good request gets a certificate of the requested lifetime from
// the signer's CA.
func TestSign(t *testing.T) {
	authority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	profiles, err := signer.Build(context.Background(), nil, authority.Backend(), signer.DefaultMaxDuration, testkit.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	client := testkit.CSR("alice", testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName),
		testkit.SetUsages(certificatesv1.UsageClientAuth), testkit.SetExpirationSeconds(3600))
	req := testkit.ParsedRequest(t, testkit.Request(t, "alice", testkit.WithOrg("dev")))
	issuer := &Issuer{Profiles: profiles, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)}

	profile := issuer.Serves(certificatesv1.KubeAPIServerClientSignerName)
	if profile == nil || issuer.Serves("example.com/unknown") != nil {
		t.Fatalf("Serves: the client signer is served (%v) and an unknown one is not", profile != nil)
	}
	issued, err := issuer.Sign(context.Background(), client, profile, req)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	if err := issued.Certificate.CheckSignatureFrom(authority.Cert); err != nil || issued.Certificate.Subject.CommonName != "alice" {
		t.Errorf("certificate %s not issued by the CA for alice: %v", issued.Certificate.Subject, err)
	}
	if life := issued.Certificate.NotAfter.Sub(testkit.Epoch); life != time.Hour {
		t.Errorf("lifetime from now = %s; want 1h", life)
	}

	server := client.DeepCopy()
	server.Spec.Usages = []certificatesv1.KeyUsage{certificatesv1.UsageServerAuth}
	_, err = issuer.Sign(context.Background(), server, profile, req)
	var refused RefusedError
	if !errors.As(err, &refused) {
		t.Errorf("a request the signer's rules refuse: %v; want a RefusedError", err)
	}

	late := &Issuer{Profiles: profiles, Clock: clocktesting.NewFakePassiveClock(authority.Cert.NotAfter)}
	_, err = late.Sign(context.Background(), client, profile, req)
	var unavailable UnavailableError
	if !errors.As(err, &unavailable) {
		t.Errorf("an expired CA: %v; want an UnavailableError", err)
	}
}

// TestAuthorizer: in the server's process, the Decider's question is the one the approver
// sends as a SubjectAccessReview: may the requester (user, UID, groups, extra) create
// certificatesigningrequests/<subresource>. An evaluation error is no error, as there.
func TestAuthorizer(t *testing.T) {
	obj := testkit.CSR("node", testkit.SetUsername("system:node:n1"), testkit.SetRequesterUID("u1"), testkit.SetGroups("system:nodes"), testkit.SetExtra("k", "v"))
	var got authorizer.Attributes
	authorize := Authorizer(authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		got = a
		if a.GetSubresource() == "selfnodeclient" {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", errors.New("a binding names a missing role")
	}))
	allowed, err := authorize(context.Background(), obj, "selfnodeclient")
	if !allowed || err != nil {
		t.Errorf("selfnodeclient: allowed %v, %v; want allowed", allowed, err)
	}
	u := got.GetUser()
	if u.GetName() != "system:node:n1" || u.GetUID() != "u1" || !cmp.Equal(u.GetGroups(), []string{"system:nodes"}) || !cmp.Equal(u.GetExtra(), map[string][]string{"k": {"v"}}) ||
		got.GetVerb() != "create" || got.GetAPIGroup() != "certificates.k8s.io" || got.GetResource() != "certificatesigningrequests" || !got.IsResourceRequest() {
		t.Errorf("asked %+v as %+v", got, u)
	}
	if allowed, err := authorize(context.Background(), obj, "nodeclient"); allowed || err != nil {
		t.Errorf("nodeclient: allowed %v, %v; want not allowed and no error", allowed, err)
	}
}
