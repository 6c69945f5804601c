package admin

import (
	"bytes"
	"crypto/x509/pkix"
	"io"
	"strings"
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
			if err := printWith(&out, tc.items, map[bool]string{true: outputWide}[tc.wide], false, now); err != nil {
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
			if err := printWith(&out, []certificatesv1.CertificateSigningRequest{*obj.DeepCopy()}, tc.output, tc.single, epoch); err != nil {
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

// printWith prints items as kcsr get -o output does.
func printWith(out io.Writer, items []certificatesv1.CertificateSigningRequest, output string, single bool, now time.Time) error {
	g := getOptions{output: output}
	if err := g.validate(nil); err != nil && output != outputCert {
		return err
	}
	p := &csrPrinter{out: out, getOptions: g, single: single, now: func() time.Time { return now }}
	return p.print(items)
}

func pad(n int) string { return strings.Repeat(" ", n) }

// TestTemplatesAndSorting: -o jsonpath, -o custom-columns (server values escaped, the
// template's own text not), --sort-by and -o cert, as kubectl does them.
func TestTemplatesAndSorting(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	mk := func(name, user string) certificatesv1.CertificateSigningRequest {
		obj := newCSR(name, requestPEM(t, key, pkix.Name{CommonName: name}))
		obj.Spec.Username = user
		return *obj
	}
	items := func() []certificatesv1.CertificateSigningRequest {
		return []certificatesv1.CertificateSigningRequest{mk("b", "zoe"), mk("a", "mallory\x1b[31m"), mk("c", "alice")}
	}
	for _, tc := range []struct {
		name, output, sortBy string
		noHeaders            bool
		want                 string
	}{
		{name: "jsonpath over the list", output: `jsonpath={range .items[*]}{.metadata.name}={.spec.username}{"\n"}{end}`,
			want: "b=zoe\na=\"mallory\\x1b[31m\"\nc=alice\n"},
		{name: "custom columns", output: "custom-columns=NAME:.metadata.name,USER:.spec.username,NOPE:.status.certificate",
			want: "NAME   USER" + pad(16) + "NOPE\nb      zoe" + pad(17) + "<none>\na      \"mallory\\x1b[31m\"   <none>\nc      alice" + pad(15) + "<none>\n"},
		{name: "sorted by user, no headers", output: "custom-columns=NAME:.metadata.name", sortBy: ".spec.username", noHeaders: true,
			want: "c\na\nb\n"},
		{name: "sorted by name, braces", output: "name", sortBy: "{.metadata.name}",
			want: "certificatesigningrequest.certificates.k8s.io/a\ncertificatesigningrequest.certificates.k8s.io/b\ncertificatesigningrequest.certificates.k8s.io/c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := getOptions{output: tc.output, sortBy: tc.sortBy, noHeaders: tc.noHeaders}
			testkit.NoError(t, g.validate(nil), "validate")
			its := items()
			if tc.sortBy != "" {
				testkit.NoError(t, sortBy(its, tc.sortBy), "sortBy")
			}
			var out bytes.Buffer
			p := &csrPrinter{out: &out, getOptions: g, now: func() time.Time { return epoch }}
			testkit.NoError(t, p.print(its), "print")
			if diff := cmp.Diff(tc.want, out.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	issued := mk("rahul", "rahul")
	issued.Status.Certificate = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	var out bytes.Buffer
	p := &csrPrinter{out: &out, getOptions: getOptions{output: outputCert}, single: true, now: func() time.Time { return epoch }}
	testkit.NoError(t, p.print([]certificatesv1.CertificateSigningRequest{issued}), "-o cert")
	if out.String() != string(issued.Status.Certificate) {
		t.Errorf("-o cert wrote %q", out.String())
	}
	testkit.ExpectError(t, p.print([]certificatesv1.CertificateSigningRequest{mk("pending", "x")}), "CSR pending has no certificate yet (Pending); kcsr fetch pending waits for it")

	for _, tc := range []struct {
		g     getOptions
		names []string
		want  string
	}{
		{getOptions{output: "cert"}, nil, "-o cert writes one CSR's certificate: name exactly one CSR"},
		{getOptions{output: "jsonpath="}, nil, "--output jsonpath= needs a template, e.g. -o jsonpath='{.items[*].metadata.name}'"},
		{getOptions{output: "go-template={{.}}"}, nil, `--output "go-template={{.}}" is not supported; use wide, yaml, json, name, cert, jsonpath=TEMPLATE or custom-columns=SPEC`},
		{getOptions{selector: "a=b"}, []string{"x"}, "-l selects among all CSRs; it does not go with names"},
		{getOptions{sortBy: "{.metadata.name"}, nil, `--sort-by "{.metadata.name": unclosed action`},
	} {
		g := tc.g
		testkit.ExpectError(t, g.validate(tc.names), tc.want)
	}
}
