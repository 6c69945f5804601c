package metrics

import (
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-base/metrics/testutil"
)

func csrWith(signer string, cert bool, types ...certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequest {
	c := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signer}}
	for _, t := range types {
		c.Status.Conditions = append(c.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: t})
	}
	if cert {
		c.Status.Certificate = []byte("cert")
	}
	return c
}

// TestCSRCollector: the states partition as documented, per signer, and nothing is
// reported before the cache is loaded.
func TestCSRCollector(t *testing.T) {
	const a, b = "example.com/a", "example.com/b"
	csrs := []*certificatesv1.CertificateSigningRequest{
		csrWith(a, false),
		csrWith(a, false, certificatesv1.CertificateApproved),
		csrWith(a, true, certificatesv1.CertificateApproved),
		csrWith(a, false, certificatesv1.CertificateApproved, certificatesv1.CertificateFailed),
		csrWith(a, false, certificatesv1.CertificateDenied),
		csrWith(b, true, certificatesv1.CertificateApproved),
	}
	notLoaded := NewCSRCollector(func() ([]*certificatesv1.CertificateSigningRequest, bool) { return csrs, false })
	if err := testutil.CustomCollectAndCompare(notLoaded, strings.NewReader("")); err != nil {
		t.Errorf("before the cache is loaded: %v", err)
	}
	c := NewCSRCollector(func() ([]*certificatesv1.CertificateSigningRequest, bool) { return csrs, true })
	want := `
# HELP kcsr_csrs [ALPHA] CertificateSigningRequests stored now, by signer name and state: stored (all), pending, approved, denied (these three partition stored), issued and failed (approved ones).
# TYPE kcsr_csrs gauge
kcsr_csrs{signer_name="example.com/a",state="stored"} 5
kcsr_csrs{signer_name="example.com/a",state="pending"} 1
kcsr_csrs{signer_name="example.com/a",state="approved"} 3
kcsr_csrs{signer_name="example.com/a",state="denied"} 1
kcsr_csrs{signer_name="example.com/a",state="issued"} 1
kcsr_csrs{signer_name="example.com/a",state="failed"} 1
kcsr_csrs{signer_name="example.com/b",state="stored"} 1
kcsr_csrs{signer_name="example.com/b",state="pending"} 0
kcsr_csrs{signer_name="example.com/b",state="approved"} 1
kcsr_csrs{signer_name="example.com/b",state="denied"} 0
kcsr_csrs{signer_name="example.com/b",state="issued"} 1
kcsr_csrs{signer_name="example.com/b",state="failed"} 0
`
	if err := testutil.CustomCollectAndCompare(c, strings.NewReader(want), "kcsr_csrs"); err != nil {
		t.Error(err)
	}
}
