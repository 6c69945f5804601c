package inventory

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestNewPKIRecord: a certificate of the server's own PKI is recorded by the same code as
// an issued one, named after its fingerprint, with signer kcsr.dev/pki, requester
// system:kcsr:pki and no CSR.
func TestNewPKIRecord(t *testing.T) {
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	cert := ca.Issue(t, &x509.Certificate{
		SerialNumber: testkit.Serial(t),
		Subject:      pkix.Name{CommonName: "kcsr-admin", Organization: []string{"system:masters"}},
		NotBefore:    testkit.Epoch,
		NotAfter:     testkit.Epoch.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, testkit.NewKey(t, testkit.P256).Public())
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	got := NewPKIRecord(pki.Leaf{Role: "admin", File: "/data/pki/admin.crt", Cert: cert, PEM: pemutil.EncodeCertificate(cert.Raw), Usages: usages})

	// The fields the certificate determines are the ones NewRecord gives it.
	want := NewRecord(&certificatesv1.CertificateSigningRequest{}, kcsrv1alpha1.PKISignerName, cert, pemutil.EncodeCertificate(cert.Raw))
	fp := want.Spec.SHA256Fingerprint
	want.Name = "pki-admin-" + fp
	want.Spec.Usages = usages
	want.Spec.Requester = kcsrv1alpha1.Requester{Username: "system:kcsr:pki"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if got.Spec.CommonName != "kcsr-admin" || got.Spec.SignerName != "kcsr.dev/pki" || got.Spec.CSRName != "" || got.Spec.CSRUID != "" || got.Labels[kcsrv1alpha1.SignerLabel] != "kcsr.dev.pki" || len(fp) != 64 {
		t.Errorf("record = %+v", got)
	}
}
