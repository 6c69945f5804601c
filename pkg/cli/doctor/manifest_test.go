package doctor

import (
	"encoding/base64"
	"strings"
	"testing"

	"kcsr.dev/kcsr/pkg/testkit"
)

// manifest is the seed's CertificateSigningRequest manifest with request pasted verbatim
// after "request: " (continuation lines indented as a user pastes them).
func manifest(request string, extra ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: rahul-req\nspec:\n")
	b.WriteString("  request: " + strings.ReplaceAll(request, "\n", "\n    ") + "\n")
	b.WriteString("  signerName: kubernetes.io/kube-apiserver-client\n  expirationSeconds: 86400 # 1 day\n  usages:\n  - client auth\n")
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	return b.String()
}

func TestCheckManifest(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	csrPEM := testkit.RequestPEM(t, key, testkit.Request(t, "rahul", testkit.WithOrg("developers")))
	oneLine := base64.StdEncoding.EncodeToString(csrPEM)
	const (
		requestOK = "✓ spec.request: a certificate request for CN=rahul, O=developers with an ECDSA P-256 key, signed with ECDSA-SHA256; the signature verifies"
		usagesOK  = "✓ spec.usages: [client auth] and the subject follow the rules of kubernetes.io/kube-apiserver-client"
	)

	cases := []struct {
		name    string
		data    string
		wantReq bool
		want    []string
	}{
		{name: "the seed's manifest", data: manifest(oneLine), wantReq: true, want: []string{requestOK, usagesOK}},
		{name: "a bare PEM request", data: string(csrPEM), wantReq: true, want: []string{requestOK}},
		{name: "base64 wrapped at 76 columns, pasted as a plain value", data: manifest(wrap(oneLine, 76, "\n")), wantReq: true,
			want: []string{
				"✗ spec.request: the base64 contains line breaks (wrapped at 76 columns), which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte 76): " + fixEncodeOneLine,
				requestOK, usagesOK,
			}},
		{name: "base64 wrapped, pasted at column 0", data: strings.Replace(manifest(oneLine), oneLine, wrap(oneLine, 76, "\n"), 1),
			want: []string{"✗ rahul-req.yaml: is not valid YAML (yaml: line 8: could not find expected ':'): if spec.request was pasted over several lines, " + fixEncodeOneLine}},
		{name: "a private key instead of the request", data: manifest(base64.StdEncoding.EncodeToString(testkit.KeyPEM(t, key))),
			want: []string{"✗ spec.request: holds a private key: never send your private key: it must stay on your machine; send the request made from it (openssl req -new -key user.key -out user.csr, then base64 -w0 user.csr), and if this manifest was shared or applied, make a new key"}},
		{name: "server auth", data: strings.Replace(manifest(oneLine), "- client auth", "- server auth", 1), wantReq: true,
			want: []string{requestOK, `✗ spec.usages: invalid usage for client certificate: server auth; the API server accepts this CSR and its approval, then the signer marks it Failed (SignerValidationFailure): the "mismatched usages fail silently after approval" case: create a new CSR with usages [client auth] (digital signature and key encipherment may be added); a serving certificate needs another signer (kubernetes.io/kubelet-serving for kubelets, a custom signer otherwise)`}},
		{name: "v1beta1 without signerName and usages", wantReq: true,
			data: "apiVersion: certificates.k8s.io/v1beta1\nkind: CertificateSigningRequest\nmetadata:\n  name: old\nspec:\n  request: " + oneLine + "\n",
			want: []string{
				"✗ apiVersion: certificates.k8s.io/v1beta1 is no longer served (removed in Kubernetes 1.22): use apiVersion: certificates.k8s.io/v1, where spec.signerName and spec.usages are required",
				requestOK,
				"✗ spec.usages: Required value: add usages: [client auth] for a user's client certificate",
				"✗ spec.signerName: Required value: add signerName: kubernetes.io/kube-apiserver-client for a user's client certificate",
			}},
		{name: "wrong kind, no name", wantReq: true,
			data: strings.Replace(strings.Replace(manifest(oneLine), "kind: CertificateSigningRequest", "kind: CSR", 1), "  name: rahul-req\n", "", 1),
			want: []string{
				`✗ kind: is "CSR": use kind: CertificateSigningRequest`,
				requestOK,
				"✗ metadata.name: Required value: name or generateName is required: give the CSR a name (metadata.name), e.g. the user's name",
				usagesOK,
			}},
		{name: "short lifetime and a misspelled field", wantReq: true,
			data: strings.Replace(manifest(oneLine), "expirationSeconds: 86400", "expirationSeconds: 300", 1) + "  usage: [client auth]\n",
			want: []string{
				requestOK,
				`✗ rahul-req.yaml: unknown field "usage": check the field's spelling: the API server refuses unknown fields`,
				"✗ spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 600 seconds (10 minutes): ask for 600 seconds or more (86400 is one day)",
				usagesOK,
			}},
		{name: "the legacy signer", wantReq: true, data: strings.Replace(manifest(oneLine), "kube-apiserver-client", "legacy-unknown", 1),
			want: []string{
				requestOK,
				`✗ spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy signerName is not allowed via this API version: use kubernetes.io/kube-apiserver-client for a user's client certificate`,
				"✓ spec.usages: [client auth] and the subject follow the rules of kubernetes.io/legacy-unknown",
			}},
		{name: "no spec", data: "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: x\n",
			want: []string{"✗ spec: is missing: add spec with request, signerName and usages"}},
		{name: "empty file", data: "",
			want: []string{"✗ rahul-req.yaml: is empty: write a CertificateSigningRequest manifest, or use kcsr request"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := CheckManifest("rahul-req.yaml", []byte(tc.data), nil)
			diffLines(t, tc.want, m.Findings)
			if (m.Request != nil) != tc.wantReq {
				t.Errorf("request returned: %v, want %v", m.Request != nil, tc.wantReq)
			}
		})
	}
}
