package request

import (
	"context"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// testCA is a CA made for one test, valid around the wall clock's now: the CLI checks
// certificates against the real time.
type testCA struct{ *testkit.CA }

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	now := time.Now()
	return &testCA{testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named(cn), testkit.ValidBetween(now.Add(-time.Hour), now.Add(24*time.Hour)))}
}

// sign issues a certificate for the CSR's request, as a signer does, valid from
// notBefore for ttl.
func (ca *testCA) sign(t testing.TB, requestPEM []byte, notBefore time.Time, ttl time.Duration) []byte {
	t.Helper()
	req, err := csr.ParseRequest(requestPEM)
	testkit.NoError(t, err, "parse request")
	tmpl := testkit.LeafTemplate(testkit.Serial(t), "", notBefore, notBefore.Add(ttl))
	tmpl.Subject, tmpl.DNSNames, tmpl.IPAddresses = req.Subject, req.DNSNames, req.IPAddresses
	return testkit.CertPEM(ca.Issue(t, tmpl, req.PublicKey))
}

// waitForCSR polls the fake API until a CSR named name (or, with a prefix, starting with
// it) exists.
func waitForCSR(t testing.TB, client *fake.Clientset, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		list, err := client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			if n := list.Items[i].Name; n == name || (list.Items[i].GenerateName == name && len(n) >= len(name) && n[:len(name)] == name) {
				return &list.Items[i]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("CSR %s was not created", name)
	return nil
}

func condition(t certificatesv1.RequestConditionType, reason, message string) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message}
}

// decide adds conditions (and, when certPEM is set, the certificate) to a CSR.
func decide(t testing.TB, client *fake.Clientset, obj *certificatesv1.CertificateSigningRequest, certPEM []byte, conds ...certificatesv1.CertificateSigningRequestCondition) {
	t.Helper()
	obj = obj.DeepCopy()
	obj.Status.Conditions = append(obj.Status.Conditions, conds...)
	obj.Status.Certificate = certPEM
	if _, err := client.CertificatesV1().CertificateSigningRequests().UpdateStatus(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// approveAndSign approves a CSR and issues its certificate from ca.
func approveAndSign(t testing.TB, client *fake.Clientset, ca *testCA, obj *certificatesv1.CertificateSigningRequest, ttl time.Duration) {
	t.Helper()
	decide(t, client, obj, ca.sign(t, obj.Spec.Request, time.Now().Add(-5*time.Minute), ttl),
		condition(certificatesv1.CertificateApproved, "KubectlApprove", "This CSR was approved by kubectl certificate approve."))
}

func csrExists(t testing.TB, client *fake.Clientset, name string) bool {
	t.Helper()
	_, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}
