package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
)

func TestAuthorizationWebhook(t *testing.T) {
	record := func(name, fp string, revoked bool) *kcsrv1alpha1.IssuedCertificate {
		ic := &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: fp, SerialNumber: name}}
		if revoked {
			ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise", Time: metav1.NewTime(time.Now())}
		}
		return ic
	}
	records := inventory.NewIndex()
	records.ReplaceWith(record("a1", "aaaa", true), record("b2", "bbbb", false))
	srv := httptest.NewServer(Handler(records))
	defer srv.Close()

	cases := []struct {
		name       string
		extra      map[string]authorizationv1.ExtraValue
		wantDenied bool
		wantReason string
	}{
		{"revoked certificate", map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=AAAA"}}, true, "kcsr: the client certificate a1 was revoked (keyCompromise)"},
		{"valid certificate of the same user", map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=bbbb"}}, false, ""},
		{"unknown certificate", map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=cccc"}}, false, ""},
		{"token credential", map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"JTI=123"}}, false, ""},
		{"no credential id", nil, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, got := review(t, srv.URL, tc.extra)
			if got.Status.Allowed {
				t.Fatalf("the webhook allowed a request; it may only deny")
			}
			if got.Status.Denied != tc.wantDenied || got.Status.Reason != tc.wantReason || got.Kind != "SubjectAccessReview" {
				t.Errorf("status = %+v (kind %q); want denied=%v reason %q", got.Status, got.Kind, tc.wantDenied, tc.wantReason)
			}
		})
	}
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader("{"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed review: %d", resp.StatusCode)
	}
}

// TestAuthorizationWebhookBeforeSync: until the inventory is loaded, the webhook cannot
// tell a revoked certificate from a good one and denies every request made with a
// certificate (a 200 Denied answer: an error would fall to kube-apiserver's failurePolicy,
// NoOpinion in docs/revocation.md); requests made otherwise keep no opinion.
func TestAuthorizationWebhookBeforeSync(t *testing.T) {
	// What the index will load: a1 revoked, b2 not. Until it is loaded, neither counts.
	records := inventory.NewIndex()
	srv := httptest.NewServer(Handler(records))
	defer srv.Close()

	notLoaded := authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "kcsr: the revocation inventory is not loaded yet; retry in a moment"}
	cases := []struct {
		name   string
		synced bool
		extra  map[string]authorizationv1.ExtraValue
		want   authorizationv1.SubjectAccessReviewStatus
	}{
		{name: "unknown certificate before sync", extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=cccc"}}, want: notLoaded},
		{name: "good certificate before sync", extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=bbbb"}}, want: notLoaded},
		{name: "revoked certificate before sync", extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=aaaa"}}, want: notLoaded},
		{name: "token before sync", extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"JTI=123"}}},
		{name: "no credential id before sync"},
		{name: "good certificate after sync", synced: true, extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=bbbb"}}},
		{name: "revoked certificate after sync", synced: true, extra: map[string]authorizationv1.ExtraValue{user.CredentialIDKey: {"X509SHA256=aaaa"}}, want: authorizationv1.SubjectAccessReviewStatus{Denied: true, Reason: "kcsr: the client certificate a1 was revoked (keyCompromise)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.synced && !records.Synced() {
				records.ReplaceWith(
					&kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "a1"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: "aaaa", SerialNumber: "a1"}, Status: kcsrv1alpha1.IssuedCertificateStatus{Revocation: &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}}},
					&kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "b2"}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: "bbbb", SerialNumber: "b2"}},
				)
			}
			code, got := review(t, srv.URL, tc.extra)
			if code != http.StatusOK {
				t.Fatalf("HTTP %d; want 200 (kube-apiserver applies the failurePolicy to anything else)", code)
			}
			if diff := cmp.Diff(tc.want, got.Status); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
		})
	}
}

// review posts rahul's SubjectAccessReview, with extra as his credential, to the webhook at
// url, as kube-apiserver does, and returns the HTTP status and the decoded answer.
func review(t *testing.T, url string, extra map[string]authorizationv1.ExtraValue) (int, authorizationv1.SubjectAccessReview) {
	t.Helper()
	body, err := json.Marshal(&authorizationv1.SubjectAccessReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "authorization.k8s.io/v1", Kind: "SubjectAccessReview"},
		Spec:     authorizationv1.SubjectAccessReviewSpec{User: "rahul", Extra: extra, ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got authorizationv1.SubjectAccessReview
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, got
}
