package upstreamrevoke

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/pkg/upstream"
)

// recorder is an upstream that records the revocations asked of it, and fails while
// down is set (the real step-ca is driven by test/e2e/upstream_test.go).
type recorder struct {
	mu      sync.Mutex
	down    bool
	revoked map[string]int
	root    *x509.Certificate
}

func (r *recorder) Name() string               { return "step-ca https://ca.test" }
func (r *recorder) Roots() []*x509.Certificate { return []*x509.Certificate{r.root} }
func (r *recorder) Sign(context.Context, *x509.CertificateRequest, []certificatesv1.KeyUsage, time.Duration) ([]*x509.Certificate, error) {
	return nil, errors.New("not used")
}
func (r *recorder) Revoke(_ context.Context, serial *big.Int, code int, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return errors.New("connection refused")
	}
	r.revoked[serial.Text(16)] = code
	return nil
}
func (r *recorder) got(serial string) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	code, ok := r.revoked[serial]
	return code, ok
}

// TestRevokeAtUpstream: a revoked record of an upstream signer is revoked at the upstream
// (with its RFC 5280 code) and annotated; one on hold, one of a local signer and a valid
// one are not, nor one whose certificate the upstream did not issue (a record nothing
// validated: a CRD on a real cluster), which is annotated as refused; an upstream that is
// down is retried, and the annotation says why it waits.
func TestRevokeAtUpstream(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	serials := map[string]string{}
	record := func(name, signer, reason string, ca *testkit.CA) runtime.Object {
		cert, _ := ca.Leaf(t, name)
		serials[name] = cert.SerialNumber.Text(16)
		ic := &kcsrv1alpha1.IssuedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: serials[name], SignerName: signer, NotAfter: metav1.NewTime(time.Now().Add(time.Hour)),
				Certificate: pemutil.EncodeCertificate(cert.Raw)},
		}
		if reason != "" {
			ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: reason, Time: metav1.Now()}
		}
		return ic
	}
	const step = "example.com/step"
	client := kcsrfake.NewSimpleClientset(
		record("a1", step, "keyCompromise", root),
		record("a2", step, kcsrv1alpha1.ReasonCertificateHold, root),
		record("a3", "example.com/local", "keyCompromise", root),
		record("a4", step, "", root),
		record("a5", step, "keyCompromise", other),
	)
	up := &recorder{revoked: map[string]int{}, root: root.Cert}
	inv := inventory.NewIndex()
	c := New(client, inv, map[string]upstream.Signer{step: up})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inv.Run(ctx, client.KcsrV1alpha1().IssuedCertificates())
	cache.WaitForCacheSync(ctx.Done(), inv.Synced)
	go c.Run(ctx)

	annotation := func(name string) string {
		ic, err := client.KcsrV1alpha1().IssuedCertificates().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ic.Annotations[kcsrv1alpha1.UpstreamRevocationAnnotation]
	}
	eventually(t, func() bool { _, ok := up.got(serials["a1"]); return ok }, "a1 revoked at the upstream")
	if code, _ := up.got(serials["a1"]); code != 1 {
		t.Errorf("reason code %d, want 1 (keyCompromise)", code)
	}
	eventually(t, func() bool { return annotation("a1") == "revoked at step-ca https://ca.test" }, "a1 annotated")
	for _, name := range []string{"a2", "a3", "a4"} {
		if _, ok := up.got(serials[name]); ok || annotation(name) != "" {
			t.Errorf("%s was carried to the upstream", name)
		}
	}
	eventually(t, func() bool {
		return strings.HasPrefix(annotation("a5"), "refused: the certificate does not chain to step-ca https://ca.test's roots")
	}, "a5 refused")
	if _, ok := up.got(serials["a5"]); ok {
		t.Error("a5, a certificate of another CA, was revoked at the upstream")
	}

	// Down: the annotation says why it waits; back up, it is revoked.
	up.mu.Lock()
	up.down = true
	up.mu.Unlock()
	ic, _ := client.KcsrV1alpha1().IssuedCertificates().Get(ctx, "a4", metav1.GetOptions{})
	ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "superseded", Time: metav1.Now()}
	if _, err := client.KcsrV1alpha1().IssuedCertificates().UpdateStatus(ctx, ic, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return annotation("a4") == "not yet: connection refused (retried)" }, "a4 says it waits")
	up.mu.Lock()
	up.down = false
	up.mu.Unlock()
	eventually(t, func() bool { return annotation("a4") == "revoked at step-ca https://ca.test" }, "a4 revoked once the upstream is back")
}

// eventually polls cond for ten seconds.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
