package validation

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"kcsr.dev/kcsr/pkg/testkit"
)

// testPKI holds material generated for one test: never committed keys.
type testPKI struct {
	request []byte // PEM CERTIFICATE REQUEST
	// tamperedRequest is request with a signature that does not verify.
	tamperedRequest []byte
	keyDER          []byte // the request's private key, PKCS#8
	keyPEM          []byte
	cert            []byte // PEM CERTIFICATE
	cert2           []byte // another PEM CERTIFICATE
	certDER         []byte
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	reqDER := testkit.RequestDER(t, key, testkit.Request(t, "jane"))
	cert := func(serial int64) *x509.Certificate {
		return testkit.SelfSigned(t, key, &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "jane"},
			NotBefore:    time.Unix(1_700_000_000, 0),
			NotAfter:     time.Unix(1_800_000_000, 0),
		})
	}
	first := cert(1)
	keyPEM := testkit.KeyPEM(t, key)
	block, _ := pem.Decode(keyPEM)
	tampered := bytes.Clone(reqDER)
	tampered[len(tampered)-1] ^= 0xff
	return testPKI{
		request:         testkit.PEM(testkit.RequestBlock, reqDER),
		tamperedRequest: testkit.PEM(testkit.RequestBlock, tampered),
		keyDER:          block.Bytes,
		keyPEM:          keyPEM,
		cert:            testkit.CertPEM(first),
		cert2:           testkit.CertPEM(cert(2)),
		certDER:         first.Raw,
	}
}

type csrOption = testkit.CSRModifier

// newCSR builds a valid CSR as stored: named, with a resourceVersion, a valid request, a
// custom signer and client usages; options change it.
func newCSR(pki testPKI, opts ...csrOption) *certificatesv1.CertificateSigningRequest {
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-1", ResourceVersion: "1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pki.request,
			SignerName: "example.com/signer",
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	for _, o := range opts {
		o(obj)
	}
	return obj
}

func withName(name string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Name = name }
}

func withGenerateName(prefix string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.GenerateName = prefix }
}

func withNamespace(ns string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Namespace = ns }
}

func withResourceVersion(rv string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.ResourceVersion = rv }
}

func withFinalizers(f ...string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Finalizers = f }
}

func withLabels(l map[string]string) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Labels = l }
}

func withConditions(c ...certificatesv1.CertificateSigningRequestCondition) csrOption {
	return func(o *certificatesv1.CertificateSigningRequest) { o.Status.Conditions = c }
}

var conditionTime = metav1.NewTime(time.Unix(1_750_000_000, 0).UTC())

// condition builds a condition with a reason and fixed timestamps.
func condition(t certificatesv1.RequestConditionType, status corev1.ConditionStatus) certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{
		Type: t, Status: status, Reason: "Test", LastUpdateTime: conditionTime, LastTransitionTime: conditionTime,
	}
}

func approved() certificatesv1.CertificateSigningRequestCondition {
	return condition(certificatesv1.CertificateApproved, corev1.ConditionTrue)
}

func denied() certificatesv1.CertificateSigningRequestCondition {
	return condition(certificatesv1.CertificateDenied, corev1.ConditionTrue)
}

func failed() certificatesv1.CertificateSigningRequestCondition {
	return condition(certificatesv1.CertificateFailed, corev1.ConditionTrue)
}

func withMessage(c certificatesv1.CertificateSigningRequestCondition, msg string) certificatesv1.CertificateSigningRequestCondition {
	c.Message = msg
	return c
}

// errorStrings renders an ErrorList as its errors' texts, so that cases compare exact texts.
func errorStrings(errs field.ErrorList) []string {
	var s []string
	for _, e := range errs {
		s = append(s, e.Error())
	}
	return s
}
