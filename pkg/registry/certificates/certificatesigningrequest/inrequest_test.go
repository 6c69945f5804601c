package certificatesigningrequest

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestInRequest: what the create and the /approval update do in the request, for each
// kind of decision: approved and issued in the one write, denied, left to a person with
// the reason, refused by the signer, a CA that cannot sign (left Approved for the signer
// controller), and what is left to the controllers untouched (a join token, policies not
// loaded yet, another signer's CSR).
func TestInRequest(t *testing.T) {
	authority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	profiles, err := signer.Build(context.Background(), nil, authority.Backend(), signer.DefaultMaxDuration, testkit.Epoch)
	testkit.NoError(t, err, "signer.Build")
	kubeletUsages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	nodeCSR := func(username string) *certificatesv1.CertificateSigningRequest {
		return testkit.CSR("node", testkit.SetRequest(testkit.ClientRequestPEM(t, "system:node:n1", testkit.WithOrg("system:nodes"))),
			testkit.SetSignerName(certificatesv1.KubeAPIServerClientKubeletSignerName), testkit.SetUsages(kubeletUsages...), testkit.SetUsername(username))
	}
	clientCSR := func(username string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
		return testkit.CSR("alice", testkit.SetRequest(testkit.ClientRequestPEM(t, "alice", testkit.WithOrg("dev"))),
			testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName), testkit.SetUsages(usages...), testkit.SetUsername(username))
	}
	byPolicy := func(d issuance.Decision) issuance.PolicyFunc {
		return func(context.Context, *certificatesv1.CertificateSigningRequest, *x509.CertificateRequest) (issuance.Decision, error) {
			return d, nil
		}
	}
	approve := issuance.Decision{Approve: true, Reason: issuance.ReasonPolicyPrefix + "devs", Message: "policy devs approves"}

	cases := []struct {
		name     string
		obj      *certificatesv1.CertificateSigningRequest
		policy   issuance.Decision
		notReady bool
		late     bool // the CA expired: it cannot sign now
		want     string
		issued   bool
		verdict  string
		events   []testkit.Event
	}{
		{name: "nodeclient: approved and issued", obj: nodeCSR("system:bootstrap:abcdef"), want: "Approved,Issued", issued: true},
		{name: "policy: approved and issued", obj: clientCSR("alice", certificatesv1.UsageClientAuth), policy: approve, want: "Approved,Issued", issued: true},
		{
			name: "policy: denied", obj: clientCSR("alice", certificatesv1.UsageClientAuth),
			policy: issuance.Decision{Deny: true, Reason: issuance.ReasonGuardRail, Message: "no"}, want: "Denied",
			events: []testkit.Event{testkit.CSREvent("alice", corev1.EventTypeWarning, "Denied", issuance.ReasonGuardRail+": no")},
		},
		{
			name: "no rule decides: left to a person, saying why", obj: clientCSR("alice", certificatesv1.UsageClientAuth),
			policy: issuance.Decision{Message: "no policy matches"}, want: "Pending", verdict: "no policy matches",
			events: []testkit.Event{testkit.CSREvent("alice", corev1.EventTypeNormal, "AwaitingApproval", "no policy matches")},
		},
		{
			name: "the signer refuses: Approved and Failed in one write", obj: clientCSR("alice", certificatesv1.UsageServerAuth), policy: approve, want: "Approved,Failed",
			events: []testkit.Event{testkit.CSREvent("alice", corev1.EventTypeWarning, issuance.ReasonSignerValidationFailure, "")},
		},
		{name: "a CA that cannot sign: Approved, for the signer controller", obj: clientCSR("alice", certificatesv1.UsageClientAuth), policy: approve, late: true, want: "Approved"},
		{name: "a join token is the approver's", obj: clientCSR(kcsrv1alpha1.JoinUserPrefix+"abc123", certificatesv1.UsageClientAuth), policy: approve, want: "Pending"},
		{name: "policies not loaded: the approver decides", obj: nodeCSR("system:bootstrap:abcdef"), notReady: true, want: "Pending"},
		{
			name: "another signer's CSR: approved, signed elsewhere", policy: approve, want: "Approved",
			obj: testkit.CSR("custom", testkit.SetRequest(testkit.ClientRequestPEM(t, "svc")), testkit.SetSignerName("example.com/elsewhere"), testkit.SetUsages(certificatesv1.UsageServerAuth)),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recorder := &testkit.Recorder{}
			now := testkit.Epoch
			if tc.late {
				now = authority.Cert.NotAfter
			}
			in := &InRequest{
				Decider: &issuance.Decider{
					Authorize: func(_ context.Context, _ *certificatesv1.CertificateSigningRequest, sub string) (bool, error) {
						return sub == "nodeclient", nil
					},
					Policies: byPolicy(tc.policy),
				},
				Ready:    func() bool { return !tc.notReady },
				Issuer:   &issuance.Issuer{Profiles: profiles, Clock: clocktesting.NewFakePassiveClock(now)},
				Recorder: recorder,
				Clock:    clocktesting.NewFakePassiveClock(now),
			}
			w := &write{obj: tc.obj.DeepCopy(), req: parsed(t, tc.obj)}
			in.created(context.Background(), w)
			in.send(w)

			if got := csr.ConditionString(w.obj); got != tc.want {
				t.Errorf("conditions = %s, want %s", got, tc.want)
			}
			if got := len(w.obj.Status.Certificate) > 0; got != tc.issued {
				t.Errorf("issued = %v, want %v", got, tc.issued)
			}
			// A create's record is stored with the CSR, in its transaction (jointStorage).
			if tc.issued {
				if w.joint == nil || w.joint.Name != string(tc.obj.UID) || string(w.joint.Spec.Certificate) != string(w.obj.Status.Certificate) {
					t.Errorf("the certificate has no record, named after the CSR's UID, to be stored with the CSR: %+v", w.joint)
				}
			} else if w.joint != nil {
				t.Errorf("a record without a certificate on the CSR: %+v", w.joint)
			}
			if got := w.obj.Annotations[kcsrv1alpha1.VerdictAnnotation]; got != tc.verdict {
				t.Errorf("verdict annotation = %q, want %q", got, tc.verdict)
			}
			got := recorder.Events()
			if len(got) != len(tc.events) {
				t.Fatalf("events = %v, want %v", got, tc.events)
			}
			for i, e := range tc.events {
				if got[i].Type != e.Type || got[i].Reason != e.Reason || !strings.HasPrefix(got[i].Message, e.Message) {
					t.Errorf("event %d = %v, want %v", i, got[i], e)
				}
			}
		})
	}
}

// TestInRequestApproval: an update through /approval that approves is issued in the same
// write, with its record; one that does not (a denial, an already approved CSR) is left as
// it is. A record an earlier attempt found is handed out again, when it certifies the
// request's key.
func TestInRequestApproval(t *testing.T) {
	authority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	profiles, err := signer.Build(context.Background(), nil, authority.Backend(), signer.DefaultMaxDuration, testkit.Epoch)
	testkit.NoError(t, err, "signer.Build")
	in := &InRequest{Issuer: &issuance.Issuer{Profiles: profiles, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)}}
	pending := testkit.CSR("alice", testkit.SetRequest(testkit.ClientRequestPEM(t, "alice")),
		testkit.SetSignerName(certificatesv1.KubeAPIServerClientSignerName), testkit.SetUsages(certificatesv1.UsageClientAuth))
	approved := pending.DeepCopy()
	testkit.SetApproved("KubectlApprove", "")(approved)
	denied := pending.DeepCopy()
	testkit.SetDenied("KubectlDeny", "")(denied)

	w := &write{obj: denied.DeepCopy(), old: pending, req: parsed(t, denied)}
	in.approved(context.Background(), w)
	if len(w.obj.Status.Certificate) != 0 || w.joint != nil {
		t.Errorf("a denial was issued")
	}
	w = &write{obj: approved.DeepCopy(), old: pending, req: parsed(t, approved)}
	in.approved(context.Background(), w)
	if len(w.obj.Status.Certificate) == 0 || w.joint == nil || w.joint.Name != string(pending.UID) || string(w.joint.Spec.Certificate) != string(w.obj.Status.Certificate) {
		t.Fatalf("the approval was not issued with its record in its write")
	}
	first := w.joint
	// A retry after the store found a record of this CSR: that certificate, no new one.
	w = &write{obj: approved.DeepCopy(), old: pending, recorded: first, req: parsed(t, approved)}
	in.approved(context.Background(), w)
	if string(w.obj.Status.Certificate) != string(first.Spec.Certificate) || w.joint != nil {
		t.Errorf("a retry got another certificate, or writes another record")
	}
	// A record of this CSR for another key is never handed out.
	other := &write{obj: approved.DeepCopy(), old: pending, req: parsed(t, approved)}
	other.obj.Spec.Request = testkit.ClientRequestPEM(t, "alice")
	other.req = parsed(t, other.obj)
	other.recorded = first
	in.approved(context.Background(), other)
	if len(other.obj.Status.Certificate) != 0 {
		t.Errorf("a record for another key was handed out")
	}
	w = &write{obj: approved.DeepCopy(), old: approved, req: parsed(t, approved)}
	in.approved(context.Background(), w)
	if len(w.obj.Status.Certificate) != 0 {
		t.Errorf("an update of an already approved CSR was issued here; that is the signer controller's")
	}
}

// parsed is obj's request as the strategy's validation hands it to the write.
func parsed(t *testing.T, obj *certificatesv1.CertificateSigningRequest) *x509.CertificateRequest {
	t.Helper()
	req, err := csr.DecodeRequest(obj.Spec.Request)
	testkit.NoError(t, err, "parse the request")
	return req
}
