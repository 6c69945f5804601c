package approver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/controller/worker"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/testkit"
)

var now = testkit.Epoch

func newCSR(t *testing.T, name, username, signer, cn string, orgs []string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return testkit.CSR(name,
		testkit.SetRequest(testkit.ClientRequestPEM(t, cn, testkit.WithOrg(orgs...))),
		testkit.SetSignerName(signer), testkit.SetUsages(usages...), testkit.SetUsername(username))
}

// withNames is newCSR with subject alternative names.
func withNames(t *testing.T, name, username, cn string, orgs, dnsNames []string, uris ...string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	obj := newCSR(t, name, username, certificatesv1.KubeAPIServerClientSignerName, cn, orgs, certificatesv1.UsageClientAuth)
	obj.Spec.Request = testkit.ClientRequestPEM(t, cn, testkit.WithOrg(orgs...), testkit.WithDNS(dnsNames...), testkit.WithURI(uris...))
	return obj
}

func joinToken(name, user string, groups []string, expires time.Time) *kcsrv1alpha1.JoinToken {
	return testkit.JoinToken(name, user, expires, func(jt *kcsrv1alpha1.JoinToken) { jt.Spec.Groups = groups })
}

type fixture struct {
	*testkit.Controller
	c *Controller
}

func newFixture(t *testing.T, csrs []runtime.Object, tokens []runtime.Object, opts Options) *fixture {
	t.Helper()
	f := &fixture{Controller: testkit.NewController(csrs, tokens)}
	var err error
	f.c, err = New(worker.CSRDeps{Client: f.Client, Kcsr: f.Kcsr, CSRs: f.CSRs(), Recorder: f.Recorder, Clock: f.Clock}, opts)
	testkit.NoError(t, err, "approver.New")
	f.Start(t)
	return f
}

func TestJoinTokens(t *testing.T) {
	cases := []struct {
		name       string
		csr        *certificatesv1.CertificateSigningRequest
		token      *kcsrv1alpha1.JoinToken
		wantType   certificatesv1.RequestConditionType
		wantReason string
		wantMsg    string
	}{
		{
			name:     "matching request is approved and spends the token",
			csr:      newCSR(t, "ok", "system:join:abc123", certificatesv1.KubeAPIServerClientSignerName, "rahul", []string{"developers"}, certificatesv1.UsageClientAuth),
			token:    joinToken("abc123", "rahul", []string{"developers"}, now.Add(time.Hour)),
			wantType: certificatesv1.CertificateApproved, wantReason: ReasonJoinToken, wantMsg: "approved with join token abc123 issued for CN=rahul O=developers",
		},
		{
			name:     "other CN is denied, saying what differs",
			csr:      newCSR(t, "cn", "system:join:abc123", certificatesv1.KubeAPIServerClientSignerName, "root", []string{"developers"}, certificatesv1.UsageClientAuth),
			token:    joinToken("abc123", "rahul", []string{"developers"}, now.Add(time.Hour)),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenMismatch, wantMsg: `join token abc123 is for user "rahul" but the request's subject CN is "root"`,
		},
		{
			name:     "expired token is denied",
			csr:      newCSR(t, "late", "system:join:abc123", certificatesv1.KubeAPIServerClientSignerName, "rahul", []string{"developers"}, certificatesv1.UsageClientAuth),
			token:    joinToken("abc123", "rahul", []string{"developers"}, now.Add(-time.Minute)),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenExpired, wantMsg: "join token abc123 expired",
		},
		{
			name: "spent token is denied",
			csr:  newCSR(t, "again", "system:join:abc123", certificatesv1.KubeAPIServerClientSignerName, "rahul", []string{"developers"}, certificatesv1.UsageClientAuth),
			token: func() *kcsrv1alpha1.JoinToken {
				jt := joinToken("abc123", "rahul", []string{"developers"}, now.Add(time.Hour))
				testkit.SpentOn("first", now)(jt)
				return jt
			}(),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenSpent, wantMsg: `join token abc123 was already used for CSR "first"`,
		},
		{
			name:     "a DNS name and a URI the token does not list are denied",
			csr:      withNames(t, "names", "system:join:abc123", "erin", []string{"dev"}, []string{"kubernetes.default.svc"}, "spiffe://cluster.local/ns/kube-system/sa/admin"),
			token:    joinToken("abc123", "erin", []string{"dev"}, now.Add(time.Hour)),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenMismatch,
			wantMsg: `join token abc123 does not allow the request's DNS name "kubernetes.default.svc", URI "spiffe://cluster.local/ns/kube-system/sa/admin"; a join token grants exactly the names it lists`,
		},
		{
			name: "names the token lists are approved (DNS names in any case)",
			csr:  withNames(t, "listed", "system:join:abc123", "erin", []string{"dev"}, []string{"Erin.Example.com"}, "spiffe://example.com/erin"),
			token: func() *kcsrv1alpha1.JoinToken {
				jt := joinToken("abc123", "erin", []string{"dev"}, now.Add(time.Hour))
				jt.Spec.DNSNames = []string{"erin.example.com", "other.example.com"}
				jt.Spec.URIs = []string{"spiffe://example.com/erin"}
				return jt
			}(),
			wantType: certificatesv1.CertificateApproved, wantReason: ReasonJoinToken, wantMsg: "approved with join token abc123",
		},
		{
			name: "a name listed for another kind is not allowed",
			csr:  withNames(t, "kind", "system:join:abc123", "erin", []string{"dev"}, nil, "spiffe://example.com/erin"),
			token: func() *kcsrv1alpha1.JoinToken {
				jt := joinToken("abc123", "erin", []string{"dev"}, now.Add(time.Hour))
				jt.Spec.DNSNames = []string{"spiffe://example.com/erin"}
				return jt
			}(),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenMismatch, wantMsg: `does not allow the request's URI "spiffe://example.com/erin"`,
		},
		{
			name:     "unknown token is denied",
			csr:      newCSR(t, "gone", "system:join:zzz999", certificatesv1.KubeAPIServerClientSignerName, "rahul", nil, certificatesv1.UsageClientAuth),
			token:    joinToken("abc123", "rahul", nil, now.Add(time.Hour)),
			wantType: certificatesv1.CertificateDenied, wantReason: ReasonJoinTokenUnknown, wantMsg: "join token zzz999 no longer exists",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, []runtime.Object{tc.csr}, []runtime.Object{tc.token}, Options{})
			if err := f.c.sync(context.Background(), tc.csr.Name); err != nil {
				t.Fatal(err)
			}
			got := f.LastCondition(t, tc.csr.Name)
			if got == nil || got.Type != tc.wantType || got.Reason != tc.wantReason || !strings.Contains(got.Message, tc.wantMsg) {
				t.Fatalf("condition = %+v; want %s/%s containing %q", got, tc.wantType, tc.wantReason, tc.wantMsg)
			}
			// Events are for people: a denial is one, an approval is its condition only.
			if tc.wantType == certificatesv1.CertificateDenied {
				f.Recorder.ExpectEvents(t, testkit.CSREvent(tc.csr.Name, corev1.EventTypeWarning, string(tc.wantType), got.Reason+": "+got.Message))
			} else {
				f.Recorder.ExpectEvents(t)
			}
			if tc.wantType == certificatesv1.CertificateApproved {
				jt, _ := f.Kcsr.KcsrV1alpha1().JoinTokens().Get(context.Background(), tc.token.Name, metav1.GetOptions{})
				if jt.Status.UsedBy == nil || jt.Status.UsedBy.CSRName != tc.csr.Name {
					t.Errorf("the token was not spent on the CSR: %+v", jt.Status.UsedBy)
				}
			}
		})
	}
}

// TestJoinTokenSpendConflict: when the spend loses an optimistic-concurrency race, the CSR
// is not approved (the sync fails and is retried, and then sees the token spent).
func TestJoinTokenSpendConflict(t *testing.T) {
	csr := newCSR(t, "race", "system:join:abc123", certificatesv1.KubeAPIServerClientSignerName, "rahul", nil, certificatesv1.UsageClientAuth)
	f := newFixture(t, []runtime.Object{csr}, []runtime.Object{joinToken("abc123", "rahul", nil, now.Add(time.Hour))}, Options{})
	f.Kcsr.PrependReactor("update", "jointokens", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errConflict
	})
	if err := f.c.sync(context.Background(), "race"); err == nil {
		t.Fatal("sync succeeded although the token could not be spent")
	}
	if got := f.LastCondition(t, "race"); got != nil {
		t.Errorf("CSR decided without spending the token: %+v", got)
	}
	f.Recorder.ExpectEvents(t)
}

func TestKubeletClient(t *testing.T) {
	node := func(name, username string) *certificatesv1.CertificateSigningRequest {
		return newCSR(t, name, username, certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:n1", []string{"system:nodes"}, certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth)
	}
	cases := []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		allowed map[string]bool // subresource → SAR answer
		wantMsg string          // "" means not approved
	}{
		{"bootstrap via nodeclient", node("boot", "system:bootstrap:abc123"), map[string]bool{"nodeclient": true}, "Auto approving kubelet client certificate after SubjectAccessReview."},
		{"renewal via selfnodeclient", node("renew", "system:node:n1"), map[string]bool{"selfnodeclient": true}, "Auto approving self kubelet client certificate after SubjectAccessReview."},
		{"no permission", node("nope", "mallory"), map[string]bool{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, []runtime.Object{tc.csr}, nil, Options{})
			f.Client.PrependReactor("create", "subjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
				sar := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
				if sar.Spec.User != tc.csr.Spec.Username {
					t.Errorf("SAR asked as %q, want the requester %q", sar.Spec.User, tc.csr.Spec.Username)
				}
				sar.Status.Allowed = tc.allowed[sar.Spec.ResourceAttributes.Subresource]
				return true, sar, nil
			})
			if err := f.c.sync(context.Background(), tc.csr.Name); err != nil {
				t.Fatal(err)
			}
			got := f.LastCondition(t, tc.csr.Name)
			if tc.wantMsg == "" {
				if got != nil {
					t.Fatalf("approved without permission: %+v", got)
				}
				f.Recorder.ExpectEvents(t)
				return
			}
			if got == nil || got.Type != certificatesv1.CertificateApproved || got.Reason != issuance.ReasonAutoApproved || got.Message != tc.wantMsg {
				t.Fatalf("condition = %+v; want AutoApproved %q", got, tc.wantMsg)
			}
			f.Recorder.ExpectEvents(t)
		})
	}
}

var errConflict = apierrors.NewConflict(kcsrv1alpha1.Resource("jointokens"), "abc123", errors.New("the object has been modified"))
