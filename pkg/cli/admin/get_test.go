package admin

import (
	"bytes"
	"crypto/x509/pkix"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

func TestPrintTable(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	rahul := newCSR("rahul", requestPEM(t, key, pkix.Name{CommonName: "rahul", Organization: []string{"ops", "developers"}}, "rahul.example"),
		withCondition(certificatesv1.CertificateApproved, "KcsrApprove", "ok"),
		func(obj *certificatesv1.CertificateSigningRequest) {
			obj.Status.Certificate = issue(t, key, "rahul", epoch, epoch.Add(24*time.Hour))
		})
	broken := newCSR("broken", []byte("not a request"), testkit.SetSignerName(""), func(obj *certificatesv1.CertificateSigningRequest) { obj.Spec.ExpirationSeconds = nil })
	denied := newCSR("nobody", requestPEM(t, key, pkix.Name{}), withCondition(certificatesv1.CertificateDenied, "KcsrDeny", "no"), withCondition(certificatesv1.CertificateFailed, "X", "y"))
	now := epoch.Add(5 * time.Hour)

	cases := []struct {
		name  string
		items []certificatesv1.CertificateSigningRequest
		wide  bool
		want  string
	}{
		{
			name:  "kubectl's columns and the decoded request",
			items: []certificatesv1.CertificateSigningRequest{*rahul, *broken, *denied},
			want: `NAME     AGE   SIGNERNAME                            REQUESTOR    REQUESTEDDURATION   CONDITION         CN             GROUPS           SANS                                                KEY
rahul    5h    kubernetes.io/kube-apiserver-client   kcsr-admin   24h                 Approved,Issued   rahul          ops,developers   rahul.example,10.0.0.1,spiffe://example.com/rahul   ECDSA P-256
broken   5h    <none>                                kcsr-admin   <none>              Pending           <unreadable>   <none>           <none>                                              <unreadable>
nobody   5h    kubernetes.io/kube-apiserver-client   kcsr-admin   24h                 Denied,Failed     <none>         <none>           10.0.0.1,spiffe://example.com/rahul                 ECDSA P-256
`,
		},
		{
			name:  "wide",
			items: []certificatesv1.CertificateSigningRequest{*rahul, *broken},
			wide:  true,
			want: `NAME     AGE   SIGNERNAME                            REQUESTOR    REQUESTEDDURATION   CONDITION         CN             GROUPS           SANS                                                KEY            USAGES        EXPIRESIN
rahul    5h    kubernetes.io/kube-apiserver-client   kcsr-admin   24h                 Approved,Issued   rahul          ops,developers   rahul.example,10.0.0.1,spiffe://example.com/rahul   ECDSA P-256    client auth   19h
broken   5h    <none>                                kcsr-admin   <none>              Pending           <unreadable>   <none>           <none>                                              <unreadable>   client auth   <none>
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printTable(&out, tc.items, tc.wide, now); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("table (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrintCSRs(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	obj := newCSR("rahul", requestPEM(t, key, pkix.Name{CommonName: "rahul"}))
	obj.ManagedFields = nil
	cases := []struct {
		name   string
		output string
		single bool
		want   string
	}{
		{name: "name", output: outputName, want: "certificatesigningrequest.certificates.k8s.io/rahul\n"},
		{name: "one object as yaml", output: outputYAML, single: true},
		{name: "a list as json", output: outputJSON},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printCSRs(&out, []certificatesv1.CertificateSigningRequest{*obj.DeepCopy()}, tc.output, tc.single, epoch); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			switch tc.output {
			case outputName:
				if got != tc.want {
					t.Errorf("got %q, want %q", got, tc.want)
				}
			case outputYAML:
				for _, want := range []string{"apiVersion: certificates.k8s.io/v1\n", "kind: CertificateSigningRequest\n", "  name: rahul\n", "  signerName: kubernetes.io/kube-apiserver-client\n"} {
					if !bytes.Contains(out.Bytes(), []byte(want)) {
						t.Errorf("yaml lacks %q:\n%s", want, got)
					}
				}
			case outputJSON:
				for _, want := range []string{`"kind": "List"`, `"kind": "CertificateSigningRequest"`, `"name": "rahul"`} {
					if !bytes.Contains(out.Bytes(), []byte(want)) {
						t.Errorf("json lacks %q:\n%s", want, got)
					}
				}
			}
		})
	}
}
