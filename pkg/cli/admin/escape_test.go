package admin

import (
	"bytes"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

// hostileCSR is a CSR whose every server-controlled string tries to take over the
// terminal: a name that forges a table row, a red CN, a group with a carriage return, a
// SAN that clears the screen, a requester with a bell, a condition and an event that set
// the window title.
func hostileCSR(t *testing.T) *certificatesv1.CertificateSigningRequest {
	key := testkit.NewKey(t, testkit.P256)
	request := requestPEM(t, key, pkix.Name{CommonName: "\x1b[31mroot", Organization: []string{"dev\rops"}}, "a\x1b[2Jb.example")
	return newCSR("evil\nforged-row   Approved", request,
		withCondition(certificatesv1.CertificateDenied, "No\x1b]0;owned\x07", "bad\nsecond line"),
		func(obj *certificatesv1.CertificateSigningRequest) { obj.Spec.Username = "bob\x07" })
}

// assertNoControlCharacters fails when out holds a control character other than the line
// ends, or a line count other than lines.
func assertNoControlCharacters(t *testing.T, out string, lines int) {
	t.Helper()
	for i, r := range out {
		if r != '\n' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)) {
			t.Errorf("output holds control character %q at %d:\n%s", r, i, out)
		}
	}
	if got := strings.Count(out, "\n"); got != lines {
		t.Errorf("output has %d lines, want %d:\n%s", got, lines, out)
	}
}

// TestPrintEscapes (issue 13 item 11): kcsr get and describe show server-controlled
// strings escaped, Go-quoted, so that they cannot forge rows or send escape sequences.
func TestPrintEscapes(t *testing.T) {
	obj := hostileCSR(t)
	now := epoch.Add(5 * time.Hour)

	t.Run("table", func(t *testing.T) {
		var out bytes.Buffer
		if err := printWith(&out, []certificatesv1.CertificateSigningRequest{*obj}, outputWide, false, now); err != nil {
			t.Fatal(err)
		}
		want := `NAME                            AGE   SIGNERNAME                            REQUESTOR   REQUESTEDDURATION   CONDITION   CN               GROUPS       SANS                                                      KEY           USAGES        EXPIRESIN
"evil\nforged-row   Approved"   5h    kubernetes.io/kube-apiserver-client   "bob\a"     24h                 Denied      "\x1b[31mroot"   "dev\rops"   "a\x1b[2Jb.example",10.0.0.1,spiffe://example.com/rahul   ECDSA P-256   client auth   <none>
`
		if diff := cmp.Diff(want, out.String()); diff != "" {
			t.Errorf("table (-want +got):\n%s", diff)
		}
		assertNoControlCharacters(t, out.String(), 2)
	})

	t.Run("names", func(t *testing.T) {
		var out bytes.Buffer
		if err := printWith(&out, []certificatesv1.CertificateSigningRequest{*obj}, outputName, false, now); err != nil {
			t.Fatal(err)
		}
		if want := "certificatesigningrequest.certificates.k8s.io/\"evil\\nforged-row   Approved\"\n"; out.String() != want {
			t.Errorf("-o name = %q, want %q", out.String(), want)
		}
	})

	// -o yaml and -o json are escaped by their encoders.
	for _, output := range []string{outputYAML, outputJSON} {
		t.Run(output, func(t *testing.T) {
			var out bytes.Buffer
			if err := printWith(&out, []certificatesv1.CertificateSigningRequest{*obj.DeepCopy()}, output, true, now); err != nil {
				t.Fatal(err)
			}
			if strings.ContainsAny(out.String(), "\x1b\r\a") || strings.Contains(out.String(), "\nforged-row") {
				t.Errorf("-o %s holds raw control characters:\n%q", output, out.String())
			}
		})
	}

	t.Run("describe", func(t *testing.T) {
		var out bytes.Buffer
		extras := describeExtras{events: []corev1.Event{{Type: "Warning", Reason: "Denied\x1b[8m", Message: "hidden\x1b[0m\nfake line", LastTimestamp: metav1.NewTime(epoch.Add(time.Minute))}}}
		describe(&out, obj, extras, now)
		want := `Name:                  "evil\nforged-row   Approved"
UID:                   "uid-evil\nforged-row   Approved"
Created:               2030-01-01T00:00:00Z (5h ago)
Status:                Denied
Requester:             "bob\a"
Requester groups:      system:masters, system:authenticated
Requester UID:         <none>
Signer:                kubernetes.io/kube-apiserver-client
Requested duration:    24h
Usages:                client auth
Subject:               "CN=\x1b[31mroot,O=dev\rops"
Subject CN:            "\x1b[31mroot"
Subject O:             "dev\rops"
SANs:                  "DNS:a\x1b[2Jb.example", IP:10.0.0.1, URI:spiffe://example.com/rahul
Key:                   ECDSA P-256
Request signature:     ECDSA-SHA256, verifies
Condition Denied:      "True, No\x1b]0;owned\a: bad\nsecond line (2030-01-01T00:01:00Z)"
Events:
  TYPE     REASON           AGE    MESSAGE
  Warning  "Denied\x1b[8m"  4h59m  "hidden\x1b[0m\nfake line"
`
		if diff := cmp.Diff(want, out.String()); diff != "" {
			t.Errorf("describe (-want +got):\n%s", diff)
		}
		assertNoControlCharacters(t, out.String(), 20)
	})

	t.Run("summary before a decision", func(t *testing.T) {
		got := summary(decode(obj))
		want := `"evil\nforged-row   Approved": CN="\x1b[31mroot" O="dev\rops" SANs="a\x1b[2Jb.example",10.0.0.1,spiffe://example.com/rahul signer=kubernetes.io/kube-apiserver-client usages=[client auth] duration=24h requester="bob\a" key=ECDSA P-256`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("summary (-want +got):\n%s", diff)
		}
		assertNoControlCharacters(t, got+"\n", 1)
	})
}
