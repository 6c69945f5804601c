package authn

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/testkit"
)

// clusterCA is a CA valid around the wall clock's now: the x509 authenticator verifies
// chains at the real time.
func clusterCA(t *testing.T) *testkit.CA {
	t.Helper()
	now := time.Now()
	return testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.ValidBetween(now.Add(-time.Hour), now.Add(time.Hour)))
}

// clientCert is a client certificate of ca for CN cn and O orgs, valid now.
func clientCert(t *testing.T, ca *testkit.CA, cn string, orgs ...string) *x509.Certificate {
	t.Helper()
	now := time.Now()
	cert, _ := ca.Leaf(t, cn, testkit.ValidBetween(now.Add(-time.Minute), now.Add(time.Hour)), func(c *x509.Certificate) { c.Subject.Organization = orgs })
	return cert
}

func caContent(t *testing.T, ca *testkit.CA) dynamiccertificates.CAContentProvider {
	t.Helper()
	p, err := dynamiccertificates.NewStaticCAContent("client-ca", ca.CertPEM)
	testkit.NoError(t, err, "CA content")
	return p
}

func withCert(cert *x509.Certificate) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "https://kcsr.example/apis", nil)
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	return req
}

func withToken(token string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, "https://kcsr.example/apis", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// who is what a request authenticates as: the user, or why not.
type who struct {
	Name, UID string
	Groups    []string
	Err       string
}

func authenticate(a authenticator.Request, req *http.Request) who {
	resp, ok, err := a.AuthenticateRequest(req)
	switch {
	case err != nil:
		return who{Err: err.Error()}
	case !ok:
		return who{Err: "not authenticated"}
	}
	return who{Name: resp.User.GetName(), UID: resp.User.GetUID(), Groups: resp.User.GetGroups()}
}

func TestNewNeedsAClientCA(t *testing.T) {
	_, err := New(Options{})
	if diff := cmp.Diff("authn: a client CA is required", testkit.ErrString(err)); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	_, err = New(Options{ClientCA: caContent(t, clusterCA(t)), TokenAuthFile: "/nonexistent/tokens.csv"})
	testkit.ErrorContains(t, err, "--token-auth-file: ")
}

func TestClientCertificates(t *testing.T) {
	ca, other := clusterCA(t), clusterCA(t)
	a, err := New(Options{ClientCA: caContent(t, ca)})
	testkit.NoError(t, err, "New")

	rahul := clientCert(t, ca, "rahul", "ops", "developers")
	if diff := cmp.Diff(who{Name: "rahul", Groups: []string{"ops", "developers", user.AllAuthenticated}}, authenticate(a, withCert(rahul))); diff != "" {
		t.Errorf("CN is the user, every O a group (-want +got):\n%s", diff)
	}
	resp, _, _ := a.AuthenticateRequest(withCert(rahul))
	if diff := cmp.Diff([]string{"X509SHA256=" + fingerprint(rahul)}, []string(resp.User.GetExtra()[user.CredentialIDKey])); diff != "" {
		t.Errorf("credential id (-want +got):\n%s", diff)
	}
	if got := authenticate(a, withCert(clientCert(t, other, "root", "system:masters"))); got.Err == "" {
		t.Errorf("a certificate of another CA authenticated as %+v", got)
	}
	if got := authenticate(a, withToken("anything")); got.Err == "" {
		t.Errorf("a bearer token authenticated without token authenticators: %+v", got)
	}
}

func TestTokens(t *testing.T) {
	file := testkit.WriteFile(t, "tokens.csv", []byte("static-secret,rahul,uid-rahul,\"developers,ops\"\n"), 0o600)
	join := authenticator.TokenFunc(func(_ context.Context, token string) (*authenticator.Response, bool, error) {
		if token != "abc123.0123456789abcdef" {
			return nil, false, nil
		}
		return &authenticator.Response{User: &user.DefaultInfo{Name: "system:join:abc123"}}, true, nil
	})
	a, err := New(Options{ClientCA: caContent(t, clusterCA(t)), TokenAuthFile: file, Tokens: join})
	testkit.NoError(t, err, "New")
	cases := []struct {
		token string
		want  who
	}{
		{"static-secret", who{Name: "rahul", UID: "uid-rahul", Groups: []string{"developers", "ops", user.AllAuthenticated}}},
		{"abc123.0123456789abcdef", who{Name: "system:join:abc123", Groups: []string{user.AllAuthenticated}}},
		{"wrong", who{Err: "invalid bearer token"}},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, authenticate(a, withToken(tc.token))); diff != "" {
			t.Errorf("token %q (-want +got):\n%s", tc.token, diff)
		}
	}
}

func TestRevokedCertificates(t *testing.T) {
	ca := clusterCA(t)
	good, revoked := clientCert(t, ca, "good"), clientCert(t, ca, "revoked")
	records := inventory.NewIndex()
	a, err := New(Options{ClientCA: caContent(t, ca), Revocation: records})
	testkit.NoError(t, err, "New")

	if diff := cmp.Diff(who{Err: "x509: " + inventory.ErrNotLoaded.Error()}, authenticate(a, withCert(good))); diff != "" {
		t.Errorf("before the inventory is loaded (-want +got):\n%s", diff)
	}
	records.ReplaceWith(
		&kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "good"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: fingerprint(good)}},
		&kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "revoked"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: fingerprint(revoked)},
			Status: kcsrv1alpha1.IssuedCertificateStatus{Revocation: &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}}},
	)
	if diff := cmp.Diff(who{Name: "good", Groups: []string{user.AllAuthenticated}}, authenticate(a, withCert(good))); diff != "" {
		t.Errorf("an unrevoked certificate (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(who{Err: "x509: the client certificate has been revoked"}, authenticate(a, withCert(revoked))); diff != "" {
		t.Errorf("a revoked certificate (-want +got):\n%s", diff)
	}
}

func withChain(chain ...*x509.Certificate) *http.Request {
	req := withCert(chain[0])
	req.TLS.PeerCertificates = chain
	return req
}

// TestUpstreamCertificates: a certificate of an upstream login signer's CA logs in only
// when the inventory records it for that signer and it is not revoked; whatever else the
// upstream signed (never recorded, or recorded for another signer) does not, nor a
// recorded one for system:masters, nor anything before the inventory is loaded.
func TestUpstreamCertificates(t *testing.T) {
	const stepSigner = "example.com/step"
	cluster := clusterCA(t)
	now := time.Now()
	stepRoot := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("step root"), testkit.ValidBetween(now.Add(-time.Hour), now.Add(time.Hour)))
	stepIntermediate := stepRoot.NewIntermediate(t, testkit.NewKey(t, testkit.P256), testkit.ValidBetween(now.Add(-time.Hour), now.Add(time.Hour)))
	alice := clientCert(t, stepIntermediate, "alice", "dev")
	mallory := clientCert(t, stepIntermediate, "mallory", "system:masters")
	bob := clientCert(t, stepIntermediate, "bob")
	carol := clientCert(t, stepIntermediate, "carol")
	dave := clientCert(t, stepIntermediate, "dave", "dev")
	erin := clientCert(t, stepIntermediate, "erin", "dev")
	admin := clientCert(t, cluster, "admin", "system:masters")

	records := inventory.NewIndex()
	if _, err := New(Options{ClientCA: caContent(t, cluster), Revocation: records, Upstreams: []UpstreamSigner{{SignerName: stepSigner, Roots: []*x509.Certificate{stepRoot.Cert}}}}); err == nil {
		t.Fatal("New accepted an upstream signer whose records the inventory does not find by fingerprint")
	}
	records.FingerprintSigners = map[string]bool{stepSigner: true}
	a, err := New(Options{ClientCA: caContent(t, cluster), Revocation: records, Upstreams: []UpstreamSigner{{SignerName: stepSigner, Roots: []*x509.Certificate{stepRoot.Cert}}}})
	testkit.NoError(t, err, "New")
	if got := authenticate(a, withChain(alice, stepIntermediate.Cert)); !strings.Contains(got.Err, "cannot log in before the inventory is loaded") {
		t.Errorf("before the inventory is loaded: %+v", got)
	}
	rec := func(name string, cert *x509.Certificate, signerName string, revoked bool) *kcsrv1alpha1.IssuedCertificate {
		ic := &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SignerName: signerName, SHA256Fingerprint: fingerprint(cert), Login: true}}
		if revoked {
			ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}
		}
		return ic
	}
	records.ReplaceWith(
		rec("alice", alice, stepSigner, false),
		rec("bob", bob, "example.com/other", false),
		rec("carol", carol, stepSigner, true),
		rec("admin", admin, "kcsr.dev/pki", false),
		rec("mallory", mallory, stepSigner, false),
		func() *kcsrv1alpha1.IssuedCertificate {
			r := rec("erin", erin, stepSigner, false)
			r.Spec.Login = false
			return r
		}(),
	)
	for _, tc := range []struct {
		name  string
		req   *http.Request
		want  who
		error string
	}{
		{"recorded for the signer", withChain(alice, stepIntermediate.Cert), who{Name: "alice", Groups: []string{"dev", user.AllAuthenticated}}, ""},
		{"recorded, sent without its intermediate", withCert(alice), who{}, "certificate signed by unknown authority"},
		{"signed by the upstream, never recorded", withChain(dave, stepIntermediate.Cert), who{}, "kcsr's inventory has no record of it for that signer"},
		{"recorded, but not for login", withChain(erin, stepIntermediate.Cert), who{}, "kcsr's inventory has no record of it for that signer"},
		{"recorded, for system:masters", withChain(mallory, stepIntermediate.Cert), who{}, "names system:masters, which no login signer issues"},
		{"recorded for another signer", withChain(bob, stepIntermediate.Cert), who{}, "kcsr's inventory has no record of it for that signer"},
		{"recorded and revoked", withChain(carol, stepIntermediate.Cert), who{}, "the client certificate has been revoked"},
		{"the cluster CA's certificates still log in", withCert(admin), who{Name: "admin", Groups: []string{"system:masters", user.AllAuthenticated}}, ""},
	} {
		got := authenticate(a, tc.req)
		if tc.error != "" {
			if !strings.Contains(got.Err, tc.error) {
				t.Errorf("%s: %+v; want an error containing %q", tc.name, got, tc.error)
			}
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
