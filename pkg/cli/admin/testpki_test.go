package admin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Test PKI and CSR builders; every key is made per test.

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func requestPEM(t testing.TB, key crypto.Signer, subject pkix.Name, dns ...string) []byte {
	t.Helper()
	u, _ := url.Parse("spiffe://example.com/rahul")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: subject, DNSNames: dns, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}, URIs: []*url.URL{u},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// issue signs a certificate for key's public key, by a throw-away CA named kcsr-ca.
func issue(t testing.TB, key crypto.Signer, cn string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	caKey := newKey(t)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kcsr-ca"}, NotBefore: notBefore, NotAfter: notAfter.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(0x1f2e3d), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter,
	}, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// csrOpt changes a CSR built by newCSR.
type csrOpt func(*certificatesv1.CertificateSigningRequest)

func newCSR(name string, request []byte, opts ...csrOpt) *certificatesv1.CertificateSigningRequest {
	seconds := int32(86400)
	obj := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(epoch)},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           request,
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: &seconds,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
			Username:          "kcsr-admin",
			Groups:            []string{"system:masters", "system:authenticated"},
		},
	}
	for _, o := range opts {
		o(obj)
	}
	return obj
}

func withCondition(t certificatesv1.RequestConditionType, reason, message string) csrOpt {
	return func(obj *certificatesv1.CertificateSigningRequest) {
		obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastUpdateTime: metav1.NewTime(epoch.Add(time.Minute)),
		})
	}
}

func withSigner(s string) csrOpt {
	return func(obj *certificatesv1.CertificateSigningRequest) { obj.Spec.SignerName = s }
}
