package csrsigning

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/controller/worker"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

const clientSigner = certificatesv1.KubeAPIServerClientSignerName

type fixture struct {
	*testkit.Controller
	ca *testkit.CA
	c  *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{Controller: testkit.NewController(objs, nil), ca: testkit.NewCA(t, testkit.NewKey(t, testkit.P256))}
	profiles, err := signer.Build(context.Background(), nil, f.ca.Backend(), signer.DefaultMaxDuration, testkit.Epoch)
	testkit.NoError(t, err, "signer.Build")
	f.c, err = New(worker.CSRDeps{Client: f.Client, Kcsr: f.Kcsr, CSRs: f.CSRs(), Recorder: f.Recorder, Clock: f.Clock}, Options{
		Issuer:         &issuance.Issuer{Profiles: profiles, Clock: f.Clock},
		ReportUnserved: true,
	})
	testkit.NoError(t, err, "csrsigning.New")
	f.Start(t)
	return f
}

func approvedCSR(t *testing.T, name, signerName string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return testkit.CSR(name,
		testkit.SetRequest(testkit.ClientRequestPEM(t, "alice", testkit.WithOrg("dev"))),
		testkit.SetSignerName(signerName), testkit.SetUsages(usages...), testkit.SetUsername("kcsr-admin"),
		testkit.SetApproved("KubectlApprove", ""))
}

func TestIssues(t *testing.T) {
	obj := approvedCSR(t, "alice", clientSigner, certificatesv1.UsageClientAuth)
	f := newFixture(t, obj)
	if err := f.c.sync(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	got := f.CSR(t, "alice")
	if len(got.Status.Certificate) == 0 {
		t.Fatal("no certificate issued")
	}
	records, err := f.Kcsr.KcsrV1alpha1().IssuedCertificates().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 1 || records.Items[0].Name != string(obj.UID) {
		t.Fatalf("inventory = %d records, want one named after the CSR UID", len(records.Items))
	}
	if diff := cmp.Diff(string(records.Items[0].Spec.Certificate), string(got.Status.Certificate)); diff != "" {
		t.Errorf("inventory and CSR hold different certificates (-record +csr):\n%s", diff)
	}
	rec := records.Items[0].Spec
	if rec.CommonName != "alice" || rec.CSRName != "alice" || rec.Requester.Username != "kcsr-admin" || rec.KeyAlgorithm != "ECDSA P-256" {
		t.Errorf("record = %+v", rec)
	}
	// Issued is status.certificate, not an event: events are for what needs a person.
	f.Recorder.ExpectEvents(t)
}

// TestReusesRecord: a record written by an earlier attempt (crash before the status
// write) is handed out instead of a new certificate.
func TestReusesRecord(t *testing.T) {
	obj := approvedCSR(t, "alice", clientSigner, certificatesv1.UsageClientAuth)
	f := newFixture(t, obj)
	if err := f.c.sync(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	first := f.CSR(t, "alice").Status.Certificate
	// Simulate the crash: the status write never happened.
	reset := f.CSR(t, "alice")
	reset.Status.Certificate = nil
	if _, err := f.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(context.Background(), reset, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLister(t, f, func(c *certificatesv1.CertificateSigningRequest) bool { return len(c.Status.Certificate) == 0 })
	if err := f.c.sync(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if second := f.CSR(t, "alice").Status.Certificate; string(second) != string(first) {
		t.Errorf("a second certificate was issued for the same CSR")
	}
	// The retry tried to record a second certificate; the create lost to the stored
	// record, which is the one handed out.
	records, err := f.Kcsr.KcsrV1alpha1().IssuedCertificates().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 1 || string(records.Items[0].Spec.Certificate) != string(first) {
		t.Errorf("%d inventory records (want 1, holding the first certificate)", len(records.Items))
	}
}

func TestFailsWithReason(t *testing.T) {
	obj := approvedCSR(t, "server", clientSigner, certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth)
	f := newFixture(t, obj)
	if err := f.c.sync(context.Background(), "server"); err != nil {
		t.Fatal(err)
	}
	got := f.CSR(t, "server")
	if len(got.Status.Certificate) != 0 {
		t.Fatal("issued a certificate the signer must refuse")
	}
	last := got.Status.Conditions[len(got.Status.Conditions)-1]
	want := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateFailed, Status: "True", Reason: issuance.ReasonSignerValidationFailure, Message: "invalid usage for client certificate: server auth", LastUpdateTime: metav1.NewTime(testkit.Epoch)}
	if diff := cmp.Diff(want, last); diff != "" {
		t.Errorf("Failed condition (-want +got):\n%s", diff)
	}
	f.Recorder.ExpectEvents(t, testkit.CSREvent("server", corev1.EventTypeWarning, issuance.ReasonSignerValidationFailure, want.Message))
}

// TestTransientErrorRetries: a storage error while recording is returned (the workqueue
// retries with backoff) and never turns into a Failed condition.
func TestTransientErrorRetries(t *testing.T) {
	obj := approvedCSR(t, "alice", clientSigner, certificatesv1.UsageClientAuth)
	f := newFixture(t, obj)
	f.Kcsr.PrependReactor("create", "issuedcertificates", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcdserver: request timed out")
	})
	err := f.c.sync(context.Background(), "alice")
	if err == nil {
		t.Fatal("sync succeeded despite the storage error")
	}
	got := f.CSR(t, "alice")
	for _, c := range got.Status.Conditions {
		if c.Type == certificatesv1.CertificateFailed {
			t.Errorf("a transient error marked the CSR Failed: %+v", c)
		}
	}
	if len(got.Status.Certificate) != 0 {
		t.Errorf("a certificate was handed out without its inventory record")
	}
	f.Recorder.ExpectEvents(t)
}

func TestUnservedSignerIsNeverSilent(t *testing.T) {
	obj := approvedCSR(t, "custom", "example.com/unknown", certificatesv1.UsageServerAuth)
	f := newFixture(t, obj)
	if err := f.c.sync(context.Background(), "custom"); err != nil {
		t.Fatal(err)
	}
	got := f.CSR(t, "custom")
	var found *certificatesv1.CertificateSigningRequestCondition
	for i, c := range got.Status.Conditions {
		if c.Type == kcsrv1alpha1.ConditionSignerUnavailable {
			found = &got.Status.Conditions[i]
			if c.Reason != kcsrv1alpha1.ReasonNoSigner || c.Message == "" {
				t.Errorf("condition = %+v", c)
			}
		}
	}
	if found == nil {
		t.Fatalf("no %s condition on an Approved CSR nobody signs", kcsrv1alpha1.ConditionSignerUnavailable)
	}
	f.Recorder.ExpectEvents(t, testkit.CSREvent("custom", corev1.EventTypeWarning, kcsrv1alpha1.ReasonNoSigner, found.Message))
}

func TestSkips(t *testing.T) {
	pending := approvedCSR(t, "pending", clientSigner, certificatesv1.UsageClientAuth)
	pending.Status.Conditions = nil
	denied := approvedCSR(t, "denied", clientSigner, certificatesv1.UsageClientAuth)
	denied.Status.Conditions = nil
	testkit.SetDenied("KubectlDeny", "")(denied)
	f := newFixture(t, pending, denied)
	for _, name := range []string{"pending", "denied", "missing"} {
		if err := f.c.sync(context.Background(), name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, a := range f.Client.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("unexpected write %v", a)
		}
	}
	f.Recorder.ExpectEvents(t)
}

func waitLister(t *testing.T, f *fixture, cond func(*certificatesv1.CertificateSigningRequest) bool) {
	t.Helper()
	for range 200 {
		if obj, err := f.c.Lister.Get("alice"); err == nil && cond(obj) {
			return
		}
		sleep()
	}
	t.Fatal("informer did not catch up")
}

func sleep() { <-time.After(10 * time.Millisecond) }
