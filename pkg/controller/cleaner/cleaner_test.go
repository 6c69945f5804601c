package cleaner

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"kcsr.dev/kcsr/pkg/testkit"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestCleanOnce(t *testing.T) {
	at := func(ago time.Duration) metav1.Time { return metav1.NewTime(now.Add(-ago)) }
	cond := func(t certificatesv1.RequestConditionType, ago time.Duration) certificatesv1.CertificateSigningRequestCondition {
		return certificatesv1.CertificateSigningRequestCondition{Type: t, Status: "True", LastUpdateTime: at(ago)}
	}
	valid := certPEM(t, now.Add(time.Hour))
	expired := certPEM(t, now.Add(-time.Minute))
	csrs := []*certificatesv1.CertificateSigningRequest{
		newCSR("issued-old", at(2*time.Hour), valid, cond(certificatesv1.CertificateApproved, 61*time.Minute)),
		newCSR("issued-new", at(2*time.Hour), valid, cond(certificatesv1.CertificateApproved, 59*time.Minute)),
		newCSR("issued-expired", at(time.Minute), expired, cond(certificatesv1.CertificateApproved, time.Minute)),
		newCSR("denied-old", at(2*time.Hour), nil, cond(certificatesv1.CertificateDenied, 61*time.Minute)),
		newCSR("denied-new", at(2*time.Hour), nil, cond(certificatesv1.CertificateDenied, 10*time.Minute)),
		newCSR("failed-old", at(2*time.Hour), nil, cond(certificatesv1.CertificateApproved, 2*time.Hour), cond(certificatesv1.CertificateFailed, 61*time.Minute)),
		newCSR("pending-old", at(25*time.Hour), nil),
		newCSR("pending-new", at(23*time.Hour), nil),
		newCSR("unissued-old", at(30*time.Hour), nil, cond(certificatesv1.CertificateApproved, 25*time.Hour)),
		newCSR("unissued-new", at(30*time.Hour), nil, cond(certificatesv1.CertificateApproved, 23*time.Hour)),
		newCSR("zero-time", metav1.Time{}, nil, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: "True"}),
	}
	var objs []runtime.Object
	for _, c := range csrs {
		objs = append(objs, c)
	}
	f := testkit.NewController(objs, nil)
	f.Clock.SetTime(now)
	c := New(f.Client, f.CSRs(), Options{Clock: f.Clock})
	f.Start(t)

	c.CleanOnce(context.Background())

	var deleted []string
	for _, a := range f.Client.Actions() {
		if a.GetVerb() == "delete" {
			deleted = append(deleted, a.(interface{ GetName() string }).GetName())
		}
	}
	sort.Strings(deleted)
	want := []string{"denied-old", "failed-old", "issued-expired", "issued-old", "pending-old", "unissued-old"}
	if diff := cmp.Diff(want, deleted); diff != "" {
		t.Errorf("deleted CSRs (-want +got):\n%s", diff)
	}
}

func TestConfigurableAges(t *testing.T) {
	c := &Controller{opts: Options{ApprovedAge: time.Minute, DeniedAge: time.Minute, PendingAge: time.Minute}}
	obj := newCSR("pending", metav1.NewTime(now.Add(-2*time.Minute)), nil)
	if why := c.due(obj, now); why != "pending for more than 1m0s" {
		t.Errorf("due = %q", why)
	}
}

func newCSR(name string, created metav1.Time, cert []byte, conds ...certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
	obj := testkit.CSR(name, testkit.SetCertificate(cert))
	obj.CreationTimestamp, obj.Status.Conditions = created, conds
	return obj
}

// certPEM is a certificate that expires at notAfter.
func certPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	return testkit.CertPEM(testkit.SelfSigned(t, key, testkit.LeafTemplate(testkit.Serial(t), "x", notAfter.Add(-48*time.Hour), notAfter)))
}
