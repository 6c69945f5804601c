package testkit

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// recordingTB keeps what a helper reports instead of failing the test.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestErrorAssertions(t *testing.T) {
	boom := errors.New("open ca.key: permission denied")
	cases := []struct {
		name       string
		check      func(testing.TB) bool
		wantOK     bool
		wantReport string
	}{
		{"no error wanted, none", func(tb testing.TB) bool { return ErrorContains(tb, nil, "") }, true, ""},
		{"no error wanted, one", func(tb testing.TB) bool { return ErrorContains(tb, boom, "") }, false, "unexpected error: open ca.key: permission denied"},
		{"substring wanted, none", func(tb testing.TB) bool { return ErrorContains(tb, nil, "ca.key") }, false, `no error; want one containing "ca.key"`},
		{"substring wanted, other", func(tb testing.TB) bool { return ErrorContains(tb, boom, "ca.crt") }, false, `error = "open ca.key: permission denied"; want it to contain "ca.crt"`},
		{"substring wanted, present", func(tb testing.TB) bool { return ErrorContains(tb, boom, "ca.key") }, true, ""},
		{"exact text", func(tb testing.TB) bool { return ExpectError(tb, boom, "open ca.key: permission denied") }, true, ""},
		{"exact text, nil", func(tb testing.TB) bool { return ExpectError(tb, nil, "") }, true, ""},
		{"exact text, other", func(tb testing.TB) bool { return ExpectError(tb, boom, "open ca.key") }, false, "error (-want +got):"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recordingTB{TB: t}
			if ok := tc.check(r); ok != tc.wantOK {
				t.Errorf("ok = %v, want %v", ok, tc.wantOK)
			}
			var got string
			if len(r.errors) > 0 {
				got = r.errors[0]
				if len(got) > len(tc.wantReport) {
					got = got[:len(tc.wantReport)]
				}
			}
			if got != tc.wantReport {
				t.Errorf("report %q, want %q", r.errors, tc.wantReport)
			}
		})
	}
}

func TestCSRBuilder(t *testing.T) {
	obj := CSR("alice",
		SetSignerName(certificatesv1.KubeAPIServerClientSignerName), SetUsages(certificatesv1.UsageClientAuth),
		SetUsername("alice"), SetGroups("dev"), SetExtra("scopes", "a"), SetExpirationSeconds(600),
		SetApproved("KubectlApprove", "ok"), SetCertificate([]byte("cert")))
	want := certificatesv1.CertificateSigningRequestSpec{
		SignerName: certificatesv1.KubeAPIServerClientSignerName, Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		Username: "alice", Groups: []string{"dev"}, Extra: map[string]certificatesv1.ExtraValue{"scopes": {"a"}}, ExpirationSeconds: ptr(int32(600)),
	}
	if diff := cmp.Diff(want, obj.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if obj.UID != "uid-alice" || string(obj.Status.Certificate) != "cert" || len(obj.Status.Conditions) != 1 ||
		obj.Status.Conditions[0].Type != certificatesv1.CertificateApproved || !obj.Status.Conditions[0].LastUpdateTime.Time.Equal(Epoch) {
		t.Errorf("object = %+v", obj)
	}
}

func ptr[T any](v T) *T { return &v }

// TestRecorder: events carry the object they are about, as the real recorder's do.
func TestRecorder(t *testing.T) {
	r := &Recorder{}
	r.Eventf(CSR("alice"), corev1.EventTypeNormal, "Issued", "serial %x", 42)
	r.Event(CSR("bob"), corev1.EventTypeWarning, "Denied", "no")
	rt := &recordingTB{TB: t}
	r.ExpectEvents(rt, CSREvent("alice", corev1.EventTypeNormal, "Issued", "serial 2a"), CSREvent("bob", corev1.EventTypeWarning, "Denied", "no"))
	if len(rt.errors) != 0 {
		t.Errorf("the events did not match: %v", rt.errors)
	}
	r.ExpectEvents(rt)
	if len(rt.errors) != 1 {
		t.Errorf("ExpectEvents with none wanted reported %v", rt.errors)
	}
}
