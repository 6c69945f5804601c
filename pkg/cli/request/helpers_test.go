package request

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pki"
)

// testCA is a CA made for one test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pki.EncodeCert(der)}
}

// sign issues a certificate for the CSR's request, as a signer does, valid from
// notBefore for ttl.
func (ca *testCA) sign(t testing.TB, requestPEM []byte, notBefore time.Time, ttl time.Duration) []byte {
	t.Helper()
	req, err := csr.ParseRequest(requestPEM)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial,
		Subject:      req.Subject,
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPAddresses,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca.cert, req.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pki.EncodeCert(der)
}

func newKey(t testing.TB) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
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

// errString is err's text, "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
