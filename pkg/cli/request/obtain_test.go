package request

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/testkit"
)

func newObtainer(client *fake.Clientset, ca *testCA, clk clock.WithTicker, out, errOut *bytes.Buffer) *Obtainer {
	return &Obtainer{
		CSRs:     client.CertificatesV1().CertificateSigningRequests(),
		Roots:    ca.CertPEM,
		Wait:     time.Minute,
		Clock:    clk,
		Rand:     rand.Reader,
		Progress: NewProgress(out, clk),
		ErrOut:   errOut,
	}
}

func rahul(t testing.TB) Request {
	return Request{
		Name:     "rahul",
		Signer:   certificatesv1.KubeAPIServerClientSignerName,
		Usages:   []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		Duration: 24 * time.Hour,
		Identity: Identity{CommonName: "rahul", Organizations: []string{"developers"}},
		Key:      testkit.NewKey(t, testkit.P256),
	}
}

// watchStarted is closed when the first watch on CSRs starts: the fake API does not replay
// deletions that happened before a watch, as the real one does from its watch cache.
func watchStarted(client *fake.Clientset) <-chan struct{} {
	started := make(chan struct{})
	var once sync.Once
	client.PrependWatchReactor("certificatesigningrequests", func(k8stesting.Action) (bool, watch.Interface, error) {
		once.Do(func() { close(started) })
		return false, nil, nil
	})
	return started
}

type obtained struct {
	issued *Issued
	err    error
}

func obtainAsync(ctx context.Context, o *Obtainer, r Request) <-chan obtained {
	done := make(chan obtained, 1)
	go func() {
		issued, err := o.Obtain(ctx, r)
		done <- obtained{issued, err}
	}()
	return done
}

func TestObtain(t *testing.T) {
	ca := newTestCA(t, "cluster-ca")
	otherCA := newTestCA(t, "other-ca")
	approved := condition(certificatesv1.CertificateApproved, "KubectlApprove", "This CSR was approved by kubectl certificate approve.")
	cases := []struct {
		name     string
		decide   func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest)
		wantErr  string
		wantCode int
		wantOut  []string
	}{
		{
			name: "issued",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				approveAndSign(t, client, ca, obj, 24*time.Hour)
			},
			wantOut: []string{
				"created CSR rahul: CN=rahul O=developers, signer kubernetes.io/kube-apiserver-client, ECDSA P-256 key, lifetime 24h0m0s",
				"Pending: waiting for approval: an administrator runs kubectl certificate approve rahul, or an approval policy decides",
				"Approved: KubectlApprove: This CSR was approved by kubectl certificate approve",
				"Issued: serial ",
			},
		},
		{
			name: "the approver's verdict is shown while pending",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				obj = obj.DeepCopy()
				obj.Annotations = map[string]string{kcsrv1alpha1.VerdictAnnotation: "no approval policy covers signer X"}
				obj, err := client.CertificatesV1().CertificateSigningRequests().Update(context.Background(), obj, metav1.UpdateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				approveAndSign(t, client, ca, obj, 24*time.Hour)
			},
			wantOut: []string{"Pending: no approval policy covers signer X", "Approved: KubectlApprove", "Issued: serial "},
		},
		{
			name: "denied",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				decide(t, client, obj, nil, condition(certificatesv1.CertificateDenied, "KubectlDeny", "This CSR was denied by kubectl certificate deny."))
			},
			wantErr:  "error: CSR rahul was denied: KubectlDeny: This CSR was denied by kubectl certificate deny; no files were written",
			wantCode: ExitDenied,
		},
		{
			name: "failed",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				decide(t, client, obj, nil, approved, condition(certificatesv1.CertificateFailed, "SignerValidationFailure", "invalid usage for client certificate: server auth"))
			},
			wantErr:  "error: CSR rahul failed: SignerValidationFailure: invalid usage for client certificate: server auth; a Failed CSR is never retried: fix the request and create a new one; no files were written",
			wantCode: ExitFailed,
			wantOut:  []string{"Approved: KubectlApprove"},
		},
		{
			name: "deleted",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				if err := client.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), obj.Name, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			wantErr:  "error: CSR rahul was deleted before a certificate was issued; no files were written",
			wantCode: ExitFailed,
		},
		{
			name: "signed by another CA",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				approveAndSign(t, client, otherCA, obj, 24*time.Hour)
			},
			wantErr:  "error: CSR rahul was issued, but the certificate does not check out: it does not chain to the cluster CA of the kubeconfig: x509: certificate signed by unknown authority; no files were written",
			wantCode: ExitFailed,
		},
		{
			name: "for another key",
			decide: func(t *testing.T, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest) {
				other := rahul(t)
				otherPEM, err := other.Identity.CSR(other.Key, rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				decide(t, client, obj, ca.sign(t, otherPEM, time.Now(), time.Hour), approved)
			},
			wantErr:  "error: CSR rahul was issued, but the certificate does not check out: it is for another public key than the request's; no files were written",
			wantCode: ExitFailed,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			var out, errOut bytes.Buffer
			o := newObtainer(client, ca, clock.RealClock{}, &out, &errOut)
			started := watchStarted(client)
			done := obtainAsync(context.Background(), o, rahul(t))
			<-started
			tc.decide(t, client, waitForCSR(t, client, "rahul"))
			got := <-done
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(got.err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if code := ExitCode(got.err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			if tc.wantErr == "" && (got.issued == nil || got.issued.Cert.Subject.CommonName != "rahul") {
				t.Errorf("issued = %+v, want rahul's certificate", got.issued)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestIdentityMismatch(t *testing.T) {
	ca := newTestCA(t, "ca")
	r := rahul(t)
	reqPEM, err := Identity{CommonName: "rahul", Organizations: []string{"system:masters"}}.CSR(r.Key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Verify(ca.sign(t, reqPEM, time.Now(), time.Hour), r.Key.Public(), r.Identity, ca.CertPEM, true, time.Now())
	if diff := cmp.Diff(`its O is ["system:masters"], not ["developers"]`, testkit.ErrString(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestVerifyOtherSigner(t *testing.T) {
	ca, otherCA := newTestCA(t, "ca"), newTestCA(t, "signer-ca")
	r := rahul(t)
	reqPEM, err := r.Identity.CSR(r.Key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := otherCA.sign(t, reqPEM, time.Now(), time.Hour)
	// A custom signer's certificate need not chain to the API server's CA: a warning.
	cert, warnings, err := Verify(certPEM, r.Key.Public(), r.Identity, ca.CertPEM, false, time.Now())
	if err != nil || cert == nil || len(warnings) != 1 || !strings.Contains(warnings[0], "does not chain to the cluster CA") {
		t.Errorf("Verify = %v, %q, %v; want the certificate with one warning", cert, warnings, err)
	}
	// Without a CA to check against: a warning too.
	if _, warnings, err := Verify(certPEM, r.Key.Public(), r.Identity, nil, true, time.Now()); err != nil || len(warnings) != 1 {
		t.Errorf("Verify without roots = %q, %v; want one warning", warnings, err)
	}
}

func TestObtainTimeout(t *testing.T) {
	for _, keyKept := range []bool{false, true} {
		clk := testingclock.NewFakeClock(time.Now())
		client := fake.NewClientset()
		var out, errOut bytes.Buffer
		o := newObtainer(client, newTestCA(t, "ca"), clk, &out, &errOut)
		o.Wait = 2 * time.Second
		r := rahul(t)
		r.KeyKept = keyKept
		done := obtainAsync(context.Background(), o, r)
		waitForCSR(t, client, "rahul")
		for !clk.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		clk.Step(2 * time.Second)
		got := <-done
		want := "error: timed out after 2s while CSR rahul was Pending; no files were written; deleted CSR rahul, whose key was not kept"
		if keyKept {
			want = "error: timed out after 2s while CSR rahul was Pending; CSR rahul stays"
		}
		if diff := cmp.Diff(want, testkit.ErrString(got.err)); diff != "" {
			t.Errorf("keyKept=%v: (-want +got):\n%s", keyKept, diff)
		}
		if code := ExitCode(got.err); code != ExitTimeout {
			t.Errorf("exit code %d, want %d", code, ExitTimeout)
		}
		if exists := csrExists(t, client, "rahul"); exists != keyKept {
			t.Errorf("keyKept=%v: CSR exists = %v", keyKept, exists)
		}
	}
}

func TestObtainInterrupted(t *testing.T) {
	client := fake.NewClientset()
	var out, errOut bytes.Buffer
	o := newObtainer(client, newTestCA(t, "ca"), clock.RealClock{}, &out, &errOut)
	ctx, cancel := context.WithCancel(context.Background())
	done := obtainAsync(ctx, o, rahul(t))
	waitForCSR(t, client, "rahul")
	cancel()
	got := <-done
	if diff := cmp.Diff("error: interrupted while CSR rahul was Pending; no files were written; deleted CSR rahul, whose key was not kept", testkit.ErrString(got.err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if csrExists(t, client, "rahul") {
		t.Errorf("the CSR of a key that is gone was left behind")
	}
}

func TestObtainExistingName(t *testing.T) {
	ca := newTestCA(t, "ca")
	r := rahul(t)
	r.KeyKept = true
	mine, err := r.Identity.CSR(r.Key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	someoneElses, err := r.Identity.CSR(testkit.NewKey(t, testkit.P256), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		request  []byte
		keyKept  bool
		wantErr  string
		wantCode int
	}{
		{"someone else's key", someoneElses, true, `error: a CSR named "rahul" already exists (requested by alice); choose another --name, or delete it: kubectl delete csr rahul`, ExitUsage},
		{"a generated key never resumes", mine, false, `error: a CSR named "rahul" already exists (requested by alice); choose another --name, or delete it: kubectl delete csr rahul`, ExitUsage},
		{"the same kept key resumes", mine, true, "", ExitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := &certificatesv1.CertificateSigningRequest{
				ObjectMeta: metav1.ObjectMeta{Name: "rahul"},
				Spec:       certificatesv1.CertificateSigningRequestSpec{Request: tc.request, SignerName: r.Signer, Usages: r.Usages, Username: "alice"},
			}
			client := fake.NewClientset(existing)
			var out, errOut bytes.Buffer
			o := newObtainer(client, ca, clock.RealClock{}, &out, &errOut)
			r := r
			r.KeyKept = tc.keyKept
			done := obtainAsync(context.Background(), o, r)
			if tc.wantErr == "" {
				approveAndSign(t, client, ca, waitForCSR(t, client, "rahul"), time.Hour)
			}
			got := <-done
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(got.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if code := ExitCode(got.err); code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			if tc.wantErr == "" && !strings.Contains(out.String(), "CSR rahul already exists for this key (requested by alice); waiting for it") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
}
