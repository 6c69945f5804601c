package csr

import (
	"crypto/x509"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/testkit"
)

func usages(u ...certificatesv1.KeyUsage) []certificatesv1.KeyUsage { return u }

var (
	clientUsages      = usages("digital signature", "key encipherment", "client auth")
	clientUsagesNoKE  = usages("digital signature", "client auth")
	servingUsages     = usages("digital signature", "key encipherment", "server auth")
	servingUsagesNoKE = usages("digital signature", "server auth")
)

func TestValidateKubeAPIServerClient(t *testing.T) {
	req := testkit.ParsedRequest(t, testkit.Request(t, "jane", testkit.WithOrg("dev")))
	cases := []struct {
		name    string
		usages  []certificatesv1.KeyUsage
		wantErr string
	}{
		{name: "client auth only", usages: usages("client auth")},
		{name: "all three allowed usages", usages: clientUsages},
		{name: "server auth", usages: usages("digital signature", "key encipherment", "server auth"), wantErr: "invalid usage for client certificate: server auth"},
		{name: "first invalid usage is reported", usages: usages("client auth", "code signing", "any"), wantErr: "invalid usage for client certificate: code signing"},
		{name: "missing client auth", usages: usages("digital signature", "key encipherment"), wantErr: "missing required usage for client certificate: client auth"},
		{name: "no usages", wantErr: "missing required usage for client certificate: client auth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateKubeAPIServerClient(req, tc.usages)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// kubeletCase is a request to one of Kubernetes' kubelet signers and the error its rules
// give (none: it is a kubelet CSR of that kind).
type kubeletCase struct {
	name    string
	tmpl    *x509.CertificateRequest
	usages  []certificatesv1.KeyUsage
	wantErr string
}

// runKubeletCases checks validate on each case, and that recognize agrees with it.
func runKubeletCases(t *testing.T, cases []kubeletCase, validate func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error, recognize func(*x509.CertificateRequest, []certificatesv1.KeyUsage) bool) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := testkit.ParsedRequest(t, tc.tmpl)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(validate(req, tc.usages))); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got, want := recognize(req, tc.usages), tc.wantErr == ""; got != want {
				t.Errorf("recognized = %v, want %v", got, want)
			}
		})
	}
}

func TestValidateKubeletClient(t *testing.T) {
	nodes := []string{"system:nodes"}
	cases := []kubeletCase{
		{name: "rsa-style usages", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: clientUsages},
		{name: "usages without key encipherment", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: clientUsagesNoKE},
		{name: "duplicate usages count once", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: usages("client auth", "digital signature", "client auth")},
		{name: "no organization", tmpl: testkit.Request(t, "system:node:n1"), usages: clientUsages, wantErr: "subject organization is not system:nodes"},
		{name: "extra organization", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg("system:nodes", "system:masters")), usages: clientUsages, wantErr: "subject organization is not system:nodes"},
		{name: "DNS SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1")), usages: clientUsages, wantErr: "DNS subjectAltNames are not allowed"},
		{name: "email SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithEmail("n1@example.com")), usages: clientUsages, wantErr: "Email subjectAltNames are not allowed"},
		{name: "IP SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithIP("10.0.0.1")), usages: clientUsages, wantErr: "IP subjectAltNames are not allowed"},
		{name: "URI SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithURI("spiffe://example.com/n1")), usages: clientUsages, wantErr: "URI subjectAltNames are not allowed"},
		{name: "DNS SAN is checked before email", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithEmail("a@example.com"), testkit.WithDNS("n1")), usages: clientUsages, wantErr: "DNS subjectAltNames are not allowed"},
		{name: "common name", tmpl: testkit.Request(t, "n1", testkit.WithOrg(nodes...)), usages: clientUsages, wantErr: "subject common name does not begin with system:node:"},
		{name: "common name is checked before usages", tmpl: testkit.Request(t, "n1", testkit.WithOrg(nodes...)), usages: usages("server auth"), wantErr: "subject common name does not begin with system:node:"},
		{name: "server auth", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: servingUsages, wantErr: "usages did not match [client auth digital signature key encipherment]"},
		{name: "extra usage", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: usages("digital signature", "key encipherment", "client auth", "server auth"), wantErr: "usages did not match [client auth digital signature key encipherment]"},
		{name: "client auth alone", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: usages("client auth"), wantErr: "usages did not match [client auth digital signature key encipherment]"},
	}
	runKubeletCases(t, cases, ValidateKubeletClient, IsKubeletClientCSR)
}

func TestValidateKubeletServing(t *testing.T) {
	nodes := []string{"system:nodes"}
	cases := []kubeletCase{
		{name: "DNS SAN, rsa-style usages", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1.example.com")), usages: servingUsages},
		{name: "IP SAN, usages without key encipherment", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithIP("10.0.0.1")), usages: servingUsagesNoKE},
		{name: "organization", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg("nodes"), testkit.WithDNS("n1")), usages: servingUsages, wantErr: "subject organization is not system:nodes"},
		{name: "no SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...)), usages: servingUsages, wantErr: "DNS or IP subjectAltName is required"},
		{name: "email SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1"), testkit.WithEmail("n1@example.com")), usages: servingUsages, wantErr: "Email subjectAltNames are not allowed"},
		{name: "URI SAN", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithIP("10.0.0.1"), testkit.WithURI("spiffe://example.com/n1")), usages: servingUsages, wantErr: "URI subjectAltNames are not allowed"},
		{name: "client auth", tmpl: testkit.Request(t, "system:node:n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1")), usages: clientUsages, wantErr: "usages did not match [digital signature key encipherment server auth]"},
		{name: "usages are checked before common name", tmpl: testkit.Request(t, "n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1")), usages: usages("server auth"), wantErr: "usages did not match [digital signature key encipherment server auth]"},
		{name: "common name", tmpl: testkit.Request(t, "n1", testkit.WithOrg(nodes...), testkit.WithDNS("n1")), usages: servingUsagesNoKE, wantErr: "subject common name does not begin with system:node:"},
	}
	runKubeletCases(t, cases, ValidateKubeletServing, IsKubeletServingCSR)
}

func TestValidateForSigner(t *testing.T) {
	node := testkit.ParsedRequest(t, testkit.Request(t, "system:node:n1", testkit.WithOrg("system:nodes"), testkit.WithDNS("n1")))
	cases := []struct {
		name       string
		signerName string
		usages     []certificatesv1.KeyUsage
		wantErr    string
	}{
		{name: "kube-apiserver-client", signerName: "kubernetes.io/kube-apiserver-client", usages: usages("server auth"), wantErr: "invalid usage for client certificate: server auth"},
		{name: "kube-apiserver-client-kubelet", signerName: "kubernetes.io/kube-apiserver-client-kubelet", usages: clientUsages, wantErr: "DNS subjectAltNames are not allowed"},
		{name: "kubelet-serving", signerName: "kubernetes.io/kubelet-serving", usages: servingUsagesNoKE},
		{name: "legacy-unknown has no constraints", signerName: "kubernetes.io/legacy-unknown", usages: usages("any")},
		{name: "other", signerName: "example.com/signer", usages: clientUsages, wantErr: `unrecognized signerName: "example.com/signer"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateForSigner(tc.signerName, node, tc.usages)
			if diff := cmp.Diff(tc.wantErr, testkit.ErrString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsKubernetesSignerName(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"kubernetes.io/kube-apiserver-client", true},
		{"kubernetes.io/legacy-unknown", true},
		{"kubernetes.io", true},
		{"foo.kubernetes.io/bar", true},
		{"a.b.kubernetes.io/x/y", true},
		{"example.com/kubernetes.io", false},
		{"notkubernetes.io/x", false},
		{"kubernetes.io.example.com/x", false},
		{"", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsKubernetesSignerName(tc.name); got != tc.want {
				t.Errorf("IsKubernetesSignerName(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}
