package publisher

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	basemetrics "k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/ca"
	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

const (
	clientSigner  = "kubernetes.io/kube-apiserver-client"
	kubeletSigner = "kubernetes.io/kube-apiserver-client-kubelet"
	customSigner  = "example.com/signer"
	customCA      = "example.com_signer"
)

// fixture is a running publisher of two CAs, "cluster" (the client and kubelet signers)
// and "example.com_signer", over a fake clientset's records, its clock at testkit.Epoch.
type fixture struct {
	cluster, custom *testkit.CA
	client          *kcsrfake.Clientset
	pub             *Publisher
	clock           *clocktesting.FakeClock
}

// newFixture starts the publisher over an inventory of objs; clusterBackend, when not
// nil, replaces the cluster CA's backend. Metrics start from zero.
func newFixture(t *testing.T, clusterBackend ca.Backend, objs ...runtime.Object) *fixture {
	t.Helper()
	metrics.Register()
	for _, v := range []interface{ Reset() }{metrics.Revocations, metrics.CRLSize, metrics.CRLEntries, metrics.CRLThisUpdate, metrics.CRLNextUpdate, metrics.CRLErrors, metrics.OCSPResponses} {
		v.Reset()
	}
	f := &fixture{
		cluster: testkit.NewCA(t, testkit.NewKey(t, testkit.P256)),
		custom:  testkit.NewCA(t, testkit.NewKey(t, testkit.P256)),
		client:  kcsrfake.NewSimpleClientset(objs...),
		clock:   clocktesting.NewFakeClock(testkit.Epoch),
	}
	if clusterBackend == nil {
		clusterBackend = f.cluster.Backend()
	}
	ctx, cancel := context.WithCancel(context.Background())
	inv := inventory.NewIndex()
	var err error
	f.pub, err = New([]CA{
		{ID: ClusterCAID, Authority: &revocation.Authority{Backend: clusterBackend}, SignerNames: []string{clientSigner, kubeletSigner}},
		{ID: customCA, Authority: &revocation.Authority{Backend: f.custom.Backend()}, SignerNames: []string{customSigner}},
	}, inv, f.clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	runIndex(t, ctx, inv, f.client)
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); f.pub.Run(ctx) }()
	return f
}

// runIndex runs inv over client's records until ctx is done, and until the test ends. It
// returns once the index watches: the fake clientset's watch sends only the changes made
// after it opens, and the index opens it after its list.
func runIndex(t *testing.T, ctx context.Context, inv *inventory.Index, client *kcsrfake.Clientset) {
	done := make(chan struct{})
	go func() { defer close(done); inv.Run(ctx, client.KcsrV1alpha1().IssuedCertificates()) }()
	t.Cleanup(func() { <-done })
	eventually(t, "the index to watch", func() bool {
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == "issuedcertificates" {
				return true
			}
		}
		return false
	})
}

// issued is an IssuedCertificate of signer for serial, valid until notAfter, issued to
// cn; mutate may change it.
func issued(name, signer string, serial int64, cn string, notAfter time.Time, mutate ...func(*kcsrv1alpha1.IssuedCertificate)) *kcsrv1alpha1.IssuedCertificate {
	ic := &kcsrv1alpha1.IssuedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kcsrv1alpha1.IssuedCertificateSpec{
			SerialNumber: big.NewInt(serial).Text(16),
			SignerName:   signer,
			CommonName:   cn,
			NotBefore:    metav1.NewTime(testkit.Epoch.Add(-time.Hour)),
			NotAfter:     metav1.NewTime(notAfter),
		},
	}
	for _, m := range mutate {
		m(ic)
	}
	return ic
}

func revokedFor(reason string) func(*kcsrv1alpha1.IssuedCertificate) {
	return func(ic *kcsrv1alpha1.IssuedCertificate) {
		ic.Status.Revocation = &kcsrv1alpha1.Revocation{Time: metav1.NewTime(testkit.Epoch.Add(-time.Minute)), Reason: reason}
	}
}

// revoke sets the revocation of the IssuedCertificate name, or lifts it when reason is "".
func (f *fixture) revoke(t *testing.T, name, reason, message string) {
	t.Helper()
	ctx := context.Background()
	ic, err := f.client.KcsrV1alpha1().IssuedCertificates().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ic.Status.Revocation = nil
	if reason != "" {
		revokedFor(reason)(ic)
		ic.Status.Revocation.Message = message
	}
	if _, err := f.client.KcsrV1alpha1().IssuedCertificates().UpdateStatus(ctx, ic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func counter(t *testing.T, c *basemetrics.CounterVec, labels ...string) float64 {
	t.Helper()
	v, err := testutil.GetCounterMetricValue(c.WithLabelValues(labels...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func gauge(t *testing.T, g *basemetrics.GaugeVec, labels ...string) float64 {
	t.Helper()
	v, err := testutil.GetGaugeMetricValue(g.WithLabelValues(labels...))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// revocationCounts are every reason's count of kcsr_revocations_total: zero but for want.
func revocationCounts(t *testing.T, want map[string]float64) (got, wantAll map[string]float64) {
	t.Helper()
	got, wantAll = map[string]float64{}, map[string]float64{}
	for _, r := range revocation.RevocationReasons() {
		got[r.String()] = counter(t, metrics.Revocations, r.String())
		wantAll[r.String()] = want[r.String()]
	}
	return got, wantAll
}

// kcsr_revocations_total counts revocations as they happen: not those already in the
// inventory, not a lifted hold or a hold whose message changed, but a hold made final
// and a certificate that appears already revoked after the initial list.
func TestRevocationsCounter(t *testing.T) {
	f := newFixture(t, nil,
		issued("before", clientSigner, 1, "rahul", testkit.Epoch.Add(time.Hour), revokedFor("keyCompromise")),
		issued("a", clientSigner, 2, "priya", testkit.Epoch.Add(time.Hour)),
		issued("b", customSigner, 3, "svc", testkit.Epoch.Add(time.Hour)),
	)
	eventually(t, "the CRLs", func() bool {
		return gauge(t, metrics.CRLSize, ClusterCAID) > 0 && gauge(t, metrics.CRLSize, customCA) > 0
	})
	if got, want := revocationCounts(t, nil); !cmp.Equal(want, got) {
		t.Errorf("before any revocation (-want +got):\n%s", cmp.Diff(want, got))
	}

	f.revoke(t, "a", "certificateHold", "")
	f.revoke(t, "a", "certificateHold", "still on hold") // not a new revocation
	f.revoke(t, "a", "", "")                             // lifted
	f.revoke(t, "a", "certificateHold", "")
	f.revoke(t, "a", "superseded", "")
	f.revoke(t, "b", "cACompromise", "")
	if _, err := f.client.KcsrV1alpha1().IssuedCertificates().Create(context.Background(),
		issued("c", clientSigner, 4, "x", testkit.Epoch.Add(time.Hour), revokedFor("affiliationChanged")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"certificateHold": 2, "superseded": 1, "cACompromise": 1, "affiliationChanged": 1}
	eventually(t, "the revocations to be counted", func() bool {
		got, wantAll := revocationCounts(t, want)
		return cmp.Equal(wantAll, got)
	})
	time.Sleep(50 * time.Millisecond) // nothing more may come
	if got, wantAll := revocationCounts(t, want); !cmp.Equal(wantAll, got) {
		t.Errorf("kcsr_revocations_total by reason (-want +got):\n%s", cmp.Diff(wantAll, got))
	}
}

// The CRL gauges describe the CRL served: its size, its entries (not the expired ones),
// its thisUpdate and nextUpdate.
func TestCRLMetrics(t *testing.T) {
	f := newFixture(t, nil,
		issued("revoked", clientSigner, 1, "rahul", testkit.Epoch.Add(time.Hour), revokedFor("keyCompromise")),
		issued("kubelet", kubeletSigner, 2, "system:node:a", testkit.Epoch.Add(time.Hour), revokedFor("superseded")),
		issued("expired", clientSigner, 3, "old", testkit.Epoch.Add(-time.Second), revokedFor("keyCompromise")),
		issued("good", clientSigner, 4, "priya", testkit.Epoch.Add(time.Hour)),
	)
	crl := func(id string) *x509.RevocationList {
		t.Helper()
		w := httptest.NewRecorder()
		f.pub.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/crl/"+id+".crl", nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET the CRL of %s: %d %s", id, w.Code, w.Body)
		}
		l, err := x509.ParseRevocationList(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	check := func(id string, wantEntries int) {
		t.Helper()
		l := crl(id)
		got := map[string]float64{
			"size":       gauge(t, metrics.CRLSize, id),
			"entries":    gauge(t, metrics.CRLEntries, id),
			"thisUpdate": gauge(t, metrics.CRLThisUpdate, id),
			"nextUpdate": gauge(t, metrics.CRLNextUpdate, id),
		}
		want := map[string]float64{
			"size":       float64(len(l.Raw)),
			"entries":    float64(wantEntries),
			"thisUpdate": float64(testkit.Epoch.Unix()),
			"nextUpdate": float64(testkit.Epoch.Add(revocation.DefaultCRLValidity).Unix()),
		}
		if len(l.RevokedCertificateEntries) != wantEntries {
			t.Errorf("the CRL of %s lists %d certificates, want %d", id, len(l.RevokedCertificateEntries), wantEntries)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CRL metrics of %s (-want +got):\n%s", id, diff)
		}
	}
	eventually(t, "the CRLs", func() bool {
		return gauge(t, metrics.CRLSize, ClusterCAID) > 0 && gauge(t, metrics.CRLSize, customCA) > 0
	})
	check(ClusterCAID, 2)
	check(customCA, 0)

	f.clock.Step(time.Minute)
	f.revoke(t, "good", "privilegeWithdrawn", "")
	eventually(t, "the CRL to list the new revocation", func() bool { return gauge(t, metrics.CRLEntries, ClusterCAID) == 3 })
	l := crl(ClusterCAID)
	if got, want := gauge(t, metrics.CRLSize, ClusterCAID), float64(len(l.Raw)); got != want {
		t.Errorf("kcsr_crl_size_bytes = %v after a revocation, want %v", got, want)
	}
	if got, want := gauge(t, metrics.CRLThisUpdate, ClusterCAID), float64(l.ThisUpdate.Unix()); got != want || l.ThisUpdate.Unix() != testkit.Epoch.Add(time.Minute).Unix() {
		t.Errorf("kcsr_crl_this_update_timestamp_seconds = %v, the CRL's thisUpdate %v, want %v", got, want, testkit.Epoch.Add(time.Minute).Unix())
	}
	if got := counter(t, metrics.CRLErrors, ClusterCAID); got != 0 {
		t.Errorf("kcsr_crl_generation_errors_total = %v, want 0", got)
	}
}

// A CA that cannot sign counts CRL generation errors, and serves no CRL.
func TestCRLErrors(t *testing.T) {
	unplugged := &testkit.Static{ChainCerts: testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).Chain, SignerErr: errors.New("the HSM is unplugged")}
	newFixture(t, unplugged)
	eventually(t, "a CRL error", func() bool { return counter(t, metrics.CRLErrors, ClusterCAID) >= 1 })
	eventually(t, "the other CA's CRL", func() bool { return gauge(t, metrics.CRLSize, customCA) > 0 })
	if got := gauge(t, metrics.CRLSize, ClusterCAID); got != 0 {
		t.Errorf("kcsr_crl_size_bytes of the failing CA = %v, want 0", got)
	}
	if got := counter(t, metrics.CRLErrors, customCA); got != 0 {
		t.Errorf("kcsr_crl_generation_errors_total of the working CA = %v, want 0", got)
	}
}

// kcsr_ocsp_responses_total counts every OCSP request by CA and what it was answered.
func TestOCSPMetrics(t *testing.T) {
	f := newFixture(t, nil,
		issued("good", clientSigner, 1, "priya", testkit.Epoch.Add(time.Hour)),
		issued("revoked", clientSigner, 2, "rahul", testkit.Epoch.Add(time.Hour), revokedFor("keyCompromise")),
		issued("custom", customSigner, 3, "svc", testkit.Epoch.Add(time.Hour)),
	)
	eventually(t, "the CRLs", func() bool { return gauge(t, metrics.CRLSize, ClusterCAID) > 0 })
	request := func(c *testkit.CA, serial int64) []byte {
		leaf := c.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "x"}, NotBefore: testkit.Epoch, NotAfter: testkit.Epoch.Add(time.Hour)}, testkit.NewKey(t, testkit.P256).Public())
		der, err := ocsp.CreateRequest(leaf, c.Cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	h := f.pub.Handler()
	post := func(id string, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/ocsp/"+id, bytes.NewReader(body))
		r.Header.Set("Content-Type", revocation.ContentTypeOCSPRequest)
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("POST /ocsp/%s: %d", id, w.Code)
		}
	}
	post(ClusterCAID, request(f.cluster, 1))
	post(ClusterCAID, request(f.cluster, 2))
	post(ClusterCAID, request(f.cluster, 2))
	post(ClusterCAID, request(f.cluster, 99))  // never issued
	post(ClusterCAID, request(f.cluster, 3))   // the custom signer's serial: not this CA's
	post(ClusterCAID, request(f.custom, 3))    // another CA
	post(ClusterCAID, []byte("not a request")) // malformed
	post(customCA, request(f.custom, 3))       // good, on the other CA
	w := httptest.NewRecorder()                // wrong method: malformed too
	h.ServeHTTP(w, httptest.NewRequest("PUT", "/ocsp/"+ClusterCAID, nil))

	want := map[string]float64{
		`ca="cluster",status="error"`:                   0,
		`ca="cluster",status="good"`:                    1,
		`ca="cluster",status="malformed"`:               2,
		`ca="cluster",status="revoked"`:                 2,
		`ca="cluster",status="tryLater"`:                0,
		`ca="cluster",status="unauthorized"`:            1,
		`ca="cluster",status="unknown"`:                 2,
		`ca="example.com_signer",status="error"`:        0,
		`ca="example.com_signer",status="good"`:         1,
		`ca="example.com_signer",status="malformed"`:    0,
		`ca="example.com_signer",status="revoked"`:      0,
		`ca="example.com_signer",status="tryLater"`:     0,
		`ca="example.com_signer",status="unauthorized"`: 0,
		`ca="example.com_signer",status="unknown"`:      0,
	}
	if diff := cmp.Diff(want, testkit.Series(t, legacyregistry.DefaultGatherer, "kcsr_ocsp_responses_total")); diff != "" {
		t.Errorf("kcsr_ocsp_responses_total (-want +got):\n%s", diff)
	}
}

// The inventory gauges: revoked certificates by CA and reason, live ones by signer, expiry
// window and renewal; expired certificates count in neither.
func TestInventoryMetrics(t *testing.T) {
	const (
		day   = 24 * time.Hour
		nodeO = "system:nodes"
	)
	org := func(o ...string) func(*kcsrv1alpha1.IssuedCertificate) {
		return func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Organizations = o }
	}
	dns := func(names ...string) func(*kcsrv1alpha1.IssuedCertificate) {
		return func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.DNSNames = names }
	}
	f := newFixture(t, nil,
		// rahul renewed: the old certificate expires in 30 minutes, the new one in 20 days.
		issued("rahul-old", clientSigner, 1, "rahul", testkit.Epoch.Add(30*time.Minute), org("dev", "ops")),
		issued("rahul-new", clientSigner, 2, "rahul", testkit.Epoch.Add(20*day), org("ops", "dev")),
		// priya's expires in 10 hours, and her other certificate of another group is no renewal.
		issued("priya", clientSigner, 3, "priya", testkit.Epoch.Add(10*time.Hour), org("dev")),
		issued("priya-admin", clientSigner, 4, "priya", testkit.Epoch.Add(5*day), org("admins")),
		// Exactly one hour left: within 1h.
		issued("node-a", kubeletSigner, 5, "system:node:a", testkit.Epoch.Add(time.Hour), org(nodeO)),
		// Revoked: counted as revoked, not as expiring, and no renewal of priya's.
		issued("priya-revoked", clientSigner, 6, "priya", testkit.Epoch.Add(9*day), org("dev"), revokedFor("keyCompromise")),
		issued("node-b", kubeletSigner, 7, "system:node:b", testkit.Epoch.Add(2*day), org(nodeO), revokedFor("superseded")),
		issued("svc", customSigner, 8, "", testkit.Epoch.Add(3*day), dns("b.example.com", "a.example.com"), revokedFor("keyCompromise")),
		// SAN-only certificates: renewed only by the same names.
		issued("web-old", customSigner, 9, "", testkit.Epoch.Add(2*day), dns("web.example.com")),
		issued("web-new", customSigner, 10, "", testkit.Epoch.Add(100*day), dns("web.example.com")),
		issued("api", customSigner, 11, "", testkit.Epoch.Add(6*day), dns("api.example.com")),
		// Expired, revoked or not: in neither gauge.
		issued("gone", clientSigner, 12, "gone", testkit.Epoch.Add(-time.Second)),
		issued("gone-revoked", clientSigner, 13, "gone", testkit.Epoch.Add(-time.Second), revokedFor("cACompromise")),
		// A signer kcsr does not publish a CA for: expiring, but no CA to be revoked in.
		issued("ext", "example.org/external", 14, "ext", testkit.Epoch.Add(40*day)),
		issued("ext-revoked", "example.org/external", 15, "ext2", testkit.Epoch.Add(40*day), revokedFor("keyCompromise")),
	)
	eventually(t, "the CRLs", func() bool { return gauge(t, metrics.CRLSize, ClusterCAID) > 0 })

	wantRevoked := map[string]float64{}
	for _, id := range []string{ClusterCAID, customCA} {
		for _, r := range revocation.RevocationReasons() {
			wantRevoked[fmt.Sprintf("ca=%q,reason=%q", id, r)] = 0
		}
	}
	wantRevoked[`ca="cluster",reason="keyCompromise"`] = 1
	wantRevoked[`ca="cluster",reason="superseded"`] = 1
	wantRevoked[`ca="example.com_signer",reason="keyCompromise"`] = 1

	wantExpiring := map[string]float64{}
	for _, s := range []string{clientSigner, kubeletSigner, customSigner, "example.org/external"} {
		for _, renewed := range []string{"false", "true"} {
			for _, w := range metrics.ExpiryWindows {
				wantExpiring[fmt.Sprintf("renewed=%q,signer_name=%q,within=%q", renewed, s, w)] = 0
			}
		}
	}
	set := func(signer, renewed string, byWindow ...float64) {
		for i, n := range byWindow {
			wantExpiring[fmt.Sprintf("renewed=%q,signer_name=%q,within=%q", renewed, signer, metrics.ExpiryWindows[i])] = n
		}
	}
	//                                       1h 24h 7d 30d +Inf
	set(clientSigner, "true", 1, 1, 1, 1, 1)  // rahul-old
	set(clientSigner, "false", 0, 1, 2, 3, 3) // priya, priya-admin, rahul-new
	set(kubeletSigner, "false", 1, 1, 1, 1, 1)
	set(customSigner, "true", 0, 0, 1, 1, 1)  // web-old
	set(customSigner, "false", 0, 0, 1, 1, 2) // api, web-new
	set("example.org/external", "false", 0, 0, 0, 0, 1)

	collector := basemetrics.NewKubeRegistry()
	collector.CustomMustRegister(metrics.NewInventoryCollector(f.pub.countInventory))
	// The collector that Run installs in the registry of /metrics says the same.
	for name, g := range map[string]basemetrics.Gatherer{"a collector": collector, "/metrics": legacyregistry.DefaultGatherer} {
		if diff := cmp.Diff(wantRevoked, testkit.Series(t, g, "kcsr_revoked_certificates")); diff != "" {
			t.Errorf("%s: kcsr_revoked_certificates (-want +got):\n%s", name, diff)
		}
		if diff := cmp.Diff(wantExpiring, testkit.Series(t, g, "kcsr_certificates_expiring")); diff != "" {
			t.Errorf("%s: kcsr_certificates_expiring (-want +got):\n%s", name, diff)
		}
	}

	// Time moves the certificates between windows: a day later rahul-old, priya and
	// node-a have expired.
	f.clock.Step(day)
	set(clientSigner, "true", 0, 0, 0, 0, 0)
	set(clientSigner, "false", 0, 0, 1, 2, 2)
	set(kubeletSigner, "false", 0, 0, 0, 0, 0)
	set(customSigner, "true", 0, 1, 1, 1, 1)
	set(customSigner, "false", 0, 0, 1, 1, 2)
	set("example.org/external", "false", 0, 0, 0, 0, 1)
	if diff := cmp.Diff(wantExpiring, testkit.Series(t, collector, "kcsr_certificates_expiring")); diff != "" {
		t.Errorf("a day later: kcsr_certificates_expiring (-want +got):\n%s", diff)
	}
}

// BenchmarkCountInventory is the cost of one scrape of the inventory gauges over 100,000
// certificates, a tenth of them revoked and half of the rest renewed.
func BenchmarkCountInventory(b *testing.B) {
	var records []*kcsrv1alpha1.IssuedCertificate
	for i := range 100_000 {
		var mutate []func(*kcsrv1alpha1.IssuedCertificate)
		if i%10 == 0 {
			mutate = append(mutate, revokedFor("keyCompromise"))
		}
		ic := issued(fmt.Sprint("ic-", i), clientSigner, int64(i+1), fmt.Sprint("user-", i/2), testkit.Epoch.Add(time.Duration(i)*time.Minute), mutate...)
		ic.Spec.Organizations = []string{"developers", "team-" + fmt.Sprint(i%7)}
		ic.Spec.SHA256Fingerprint = fmt.Sprint(i)
		records = append(records, ic)
	}
	inv := inventory.NewIndex()
	inv.ReplaceWith(records...)
	c := &caState{CA: CA{ID: ClusterCAID, SignerNames: []string{clientSigner}}}
	p := &Publisher{cas: map[string]*caState{ClusterCAID: c}, bySigner: map[string]*caState{clientSigner: c}, inv: inv, clock: clocktesting.NewFakeClock(testkit.Epoch),
		memo: map[[2]string]*caState{}, memoName: map[string]*caState{}, newest: map[uint64]int64{}}
	b.ReportAllocs()
	for b.Loop() {
		p.countInventory(&metrics.Inventory{})
	}
}
