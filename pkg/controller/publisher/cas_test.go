package publisher

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/ca"
	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

const (
	opsSigner     = "example.com/ops"
	webhookSigner = "example.com/webhook"
)

// sharedCAs is a cluster CA used by kube-apiserver-client and, through its own backend
// (the same files opened again), by the custom signer example.com/ops; and a webhook CA of
// its own.
type sharedCAs struct {
	cluster, webhook *testkit.CA
	clusterBackend   *testkit.Static
	profiles         map[string]*signer.Profile
}

func newSharedCAs(t *testing.T) *sharedCAs {
	s := &sharedCAs{
		cluster: testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "cluster CA"} }),
		webhook: testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "webhook CA"} }),
	}
	s.clusterBackend = s.cluster.Backend()
	s.profiles = map[string]*signer.Profile{
		clientSigner:        {SignerName: clientSigner, CA: s.clusterBackend},
		opsSigner:           {SignerName: opsSigner, CA: s.cluster.Backend()},
		webhookSigner:       {SignerName: webhookSigner, CA: s.webhook.Backend()},
		"example.com/no-ca": {SignerName: "example.com/no-ca"},
	}
	return s
}

func TestCAsFor(t *testing.T) {
	s := newSharedCAs(t)
	// The cluster CA's certificate renewed for the same key is the same CA.
	renewed := testkit.NewCA(t, s.cluster.Key, func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: "cluster CA"} })
	s.profiles["example.com/renewed"] = &signer.Profile{SignerName: "example.com/renewed", CA: renewed.Backend()}

	cas, err := CAsFor(context.Background(), s.profiles, s.clusterBackend)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		ID, Subject string
		SignerNames []string
		SignsWith   ca.Backend
	}
	var got []summary
	for _, c := range cas {
		got = append(got, summary{ID: c.ID, Subject: c.Certificate.Subject.String(), SignerNames: c.SignerNames, SignsWith: c.Authority.Backend})
	}
	want := []summary{
		{ID: ClusterCAID, Subject: "CN=cluster CA", SignerNames: []string{opsSigner, "example.com/renewed", clientSigner, kcsrv1alpha1.PKISignerName}, SignsWith: s.clusterBackend},
		{ID: "example.com_webhook", Subject: "CN=webhook CA", SignerNames: []string{webhookSigner}, SignsWith: s.profiles[webhookSigner].CA},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b ca.Backend) bool { return a == b })); diff != "" {
		t.Errorf("CAs (-want +got):\n%s", diff)
	}

	// No signer on the cluster CA: it is still published, for the server's own
	// certificates.
	onlyWebhook := map[string]*signer.Profile{webhookSigner: s.profiles[webhookSigner]}
	if cas, err = CAsFor(context.Background(), onlyWebhook, s.clusterBackend); err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, c := range cas {
		got = append(got, summary{ID: c.ID, Subject: c.Certificate.Subject.String(), SignerNames: c.SignerNames, SignsWith: c.Authority.Backend})
	}
	want = []summary{
		{ID: "example.com_webhook", Subject: "CN=webhook CA", SignerNames: []string{webhookSigner}, SignsWith: s.profiles[webhookSigner].CA},
		{ID: ClusterCAID, Subject: "CN=cluster CA", SignerNames: []string{kcsrv1alpha1.PKISignerName}, SignsWith: s.clusterBackend},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b ca.Backend) bool { return a == b })); diff != "" {
		t.Errorf("CAs with no signer on the cluster CA (-want +got):\n%s", diff)
	}

	// Without a cluster CA (kcsr controller without --cluster-signing-cert-file), the
	// shared CA is named after its first signer.
	delete(s.profiles, clientSigner)
	delete(s.profiles, "example.com/renewed")
	cas, err = CAsFor(context.Background(), s.profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cas {
		ids = append(ids, c.ID)
	}
	if diff := cmp.Diff([]string{"example.com_ops", "example.com_webhook"}, ids); diff != "" {
		t.Errorf("IDs without a cluster CA (-want +got):\n%s", diff)
	}
}

func TestCAsForErrors(t *testing.T) {
	s := newSharedCAs(t)
	tests := []struct {
		name      string
		profiles  map[string]*signer.Profile
		clusterCA ca.Backend
		wantErr   string
	}{
		{
			name:      "the cluster CA cannot be read",
			profiles:  s.profiles,
			clusterCA: &testkit.Static{ChainErr: errors.New("the token is gone")},
			wantErr:   "cluster CA: read the CA certificate: the token is gone",
		},
		{
			name:     "a signer's CA cannot be read",
			profiles: map[string]*signer.Profile{opsSigner: {SignerName: opsSigner, CA: &testkit.Static{ChainErr: errors.New("the token is gone")}}},
			wantErr:  "signer example.com/ops: read the CA certificate: the token is gone",
		},
		{
			name:     "a signer's CA has no certificate",
			profiles: map[string]*signer.Profile{opsSigner: {SignerName: opsSigner, CA: &testkit.Static{}}},
			wantErr:  "signer example.com/ops: the CA has no certificate",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CAsFor(context.Background(), tc.profiles, tc.clusterCA)
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRefusesAmbiguousIDs(t *testing.T) {
	s := newSharedCAs(t)
	authority := func(c *testkit.CA) *revocation.Authority { return &revocation.Authority{Backend: c.Backend()} }
	tests := []struct {
		name    string
		cas     []CA
		wantErr string
	}{
		{
			name: "two signers with one URL id under different CAs",
			cas: []CA{
				{ID: "example.com_a_b", Authority: authority(s.cluster), SignerNames: []string{"example.com/a_b"}},
				{ID: "example.com_a", Authority: authority(s.webhook), SignerNames: []string{"example.com/a", "example.com/a/b"}},
			},
			wantErr: `CA "example.com_a_b" and signer example.com/a/b would both be published at /crl/example.com_a_b.crl; rename one of them`,
		},
		{
			name: "one signer under two CAs",
			cas: []CA{
				{ID: ClusterCAID, Authority: authority(s.cluster), SignerNames: []string{opsSigner}},
				{ID: "example.com_webhook", Authority: authority(s.webhook), SignerNames: []string{opsSigner}},
			},
			wantErr: `signer example.com/ops is listed under the CAs "cluster" and "example.com_webhook"`,
		},
		{
			name: "two CAs with one ID",
			cas: []CA{
				{ID: ClusterCAID, Authority: authority(s.cluster)},
				{ID: ClusterCAID, Authority: authority(s.webhook)},
			},
			wantErr: `two CAs have the ID "cluster"`,
		},
		{
			name: "signers of one CA may share an id",
			cas: []CA{
				{ID: "example.com_a_b", Authority: authority(s.cluster), SignerNames: []string{"example.com/a_b", "example.com/a/b"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cas, inventory.NewIndex(), nil)
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSharedCARevocations: the CRL and OCSP of a CA cover every certificate it issued,
// whichever signer issued it, under the CA's URL and under every signer's own URL.
func TestSharedCARevocations(t *testing.T) {
	s := newSharedCAs(t)
	cluster, webhook := s.cluster.Cert.Subject.String(), s.webhook.Cert.Subject.String()
	withIssuer := func(issuer string) func(*kcsrv1alpha1.IssuedCertificate) {
		return func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Issuer = issuer }
	}
	keyCompromise := revokedFor("keyCompromise")
	until := testkit.Epoch.Add(time.Hour)
	objs := []runtime.Object{
		issued("ops-revoked", opsSigner, 10, "ops", until, withIssuer(cluster), keyCompromise),
		issued("client-revoked", clientSigner, 11, "alice", until, withIssuer(cluster), keyCompromise),
		issued("ops-good", opsSigner, 12, "ops", until, withIssuer(cluster)),
		// A signer no longer configured: its certificates are still the cluster CA's.
		issued("gone-revoked", "example.com/gone", 13, "svc", until, withIssuer(cluster), keyCompromise),
		// Issued by the webhook signer when it used the cluster CA.
		issued("moved-revoked", webhookSigner, 14, "hook", until, withIssuer(cluster), keyCompromise),
		issued("webhook-revoked", webhookSigner, 15, "hook", until, withIssuer(webhook), keyCompromise),
		// An older record without an issuer belongs to its signer's CA.
		issued("ops-no-issuer", opsSigner, 16, "ops", until, keyCompromise),
		issued("expired-revoked", opsSigner, 17, "ops", testkit.Epoch.Add(-time.Minute), withIssuer(cluster), keyCompromise),
	}

	metrics.Register()
	cas, err := CAsFor(context.Background(), s.profiles, s.clusterBackend)
	if err != nil {
		t.Fatal(err)
	}
	inv := inventory.NewIndex()
	pub, err := New(cas, inv, clocktesting.NewFakeClock(testkit.Epoch))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	runIndex(t, ctx, inv, kcsrfake.NewSimpleClientset(objs...))
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() { defer close(done); pub.Run(ctx) }()
	h := pub.Handler()

	crlSerials := func(id string, issuer *testkit.CA) []int64 {
		t.Helper()
		var body []byte
		eventually(t, "the CRL of "+id, func() bool {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/crl/"+id+".crl", nil))
			body = w.Body.Bytes()
			return w.Code == http.StatusOK
		})
		l, err := x509.ParseRevocationList(body)
		if err != nil {
			t.Fatalf("CRL of %s: %v", id, err)
		}
		if err := l.CheckSignatureFrom(issuer.Cert); err != nil {
			t.Fatalf("CRL of %s: %v", id, err)
		}
		var serials []int64
		for _, e := range l.RevokedCertificateEntries {
			serials = append(serials, e.SerialNumber.Int64())
		}
		sort.Slice(serials, func(i, j int) bool { return serials[i] < serials[j] })
		return serials
	}
	clusterList := []int64{10, 11, 13, 14, 16}
	for id, want := range map[string][]int64{
		ClusterCAID:                           clusterList,
		"example.com_ops":                     clusterList,
		"kubernetes.io_kube-apiserver-client": clusterList,
		"example.com_webhook":                 {15},
	} {
		issuer := s.cluster
		if id == "example.com_webhook" {
			issuer = s.webhook
		}
		if diff := cmp.Diff(want, crlSerials(id, issuer)); diff != "" {
			t.Errorf("serials of /crl/%s.crl (-want +got):\n%s", id, diff)
		}
	}

	ocspStatus := func(id string, issuer *testkit.CA, serial int64) string {
		t.Helper()
		leaf := issuer.Issue(t, &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "x"}, NotBefore: testkit.Epoch, NotAfter: testkit.Epoch.Add(time.Hour)}, testkit.NewKey(t, testkit.P256).Public())
		req, err := ocsp.CreateRequest(leaf, issuer.Cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/ocsp/"+id, bytes.NewReader(req))
		r.Header.Set("Content-Type", revocation.ContentTypeOCSPRequest)
		h.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		resp, err := ocsp.ParseResponse(body, issuer.Cert)
		if err != nil {
			t.Fatalf("OCSP %s serial %d: %v", id, serial, err)
		}
		return map[int]string{ocsp.Good: "good", ocsp.Revoked: "revoked", ocsp.Unknown: "unknown"}[resp.Status]
	}
	tests := []struct {
		id     string
		issuer *testkit.CA
		serial int64
		want   string
	}{
		{ClusterCAID, s.cluster, 10, "revoked"},
		{ClusterCAID, s.cluster, 12, "good"},
		{ClusterCAID, s.cluster, 13, "revoked"},
		{ClusterCAID, s.cluster, 14, "revoked"},
		{ClusterCAID, s.cluster, 15, "unknown"}, // the webhook CA's
		{ClusterCAID, s.cluster, 99, "unknown"},
		{"example.com_ops", s.cluster, 10, "revoked"},
		{"example.com_ops", s.cluster, 11, "revoked"},
		{"example.com_webhook", s.webhook, 15, "revoked"},
		{"example.com_webhook", s.webhook, 14, "unknown"}, // the cluster CA's
	}
	for _, tc := range tests {
		if got := ocspStatus(tc.id, tc.issuer, tc.serial); got != tc.want {
			t.Errorf("OCSP /ocsp/%s serial %d = %s, want %s", tc.id, tc.serial, got, tc.want)
		}
	}

	// New certificates of every signer of a CA point at the CA's URLs.
	for signerName, id := range map[string]string{opsSigner: ClusterCAID, clientSigner: ClusterCAID, webhookSigner: "example.com_webhook"} {
		crl, ocspURLs := pub.URLs("http://kcsr.example:8080", signerName)
		want := []string{"http://kcsr.example:8080/crl/" + id + ".crl", "http://kcsr.example:8080/ocsp/" + id}
		if diff := cmp.Diff(want, append(crl, ocspURLs...)); diff != "" {
			t.Errorf("URLs of %s (-want +got):\n%s", signerName, diff)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
