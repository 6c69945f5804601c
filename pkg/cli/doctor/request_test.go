package doctor

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/testkit"
)

// wrap breaks s every n characters with sep, as base64 does at 76 columns.
func wrap(s string, n int, sep string) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), sep)
}

func TestCheckRequestText(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	csrPEM := testkit.RequestPEM(t, key, testkit.Request(t, "rahul", testkit.WithOrg("developers")))
	oneLine := base64.StdEncoding.EncodeToString(csrPEM)
	const fix = ": " + fixEncodeOneLine

	cases := []struct {
		name     string
		raw      any
		wantData bool
		want     []string
	}{
		{name: "one line", raw: oneLine, wantData: true},
		{name: "one line with the newline of a block scalar", raw: oneLine + "\n", wantData: true},
		{name: "missing", raw: nil, want: []string{"✗ spec.request: is missing: put the base64 of the PEM request in it: " + fixEncodeOneLine}},
		{name: "a number", raw: float64(12), want: []string{"✗ spec.request: is a number, not a string" + fix}},
		{name: "a mapping", raw: map[string]any{"a": "b"}, want: []string{"✗ spec.request: is a mapping, not a string" + fix}},
		{name: "empty", raw: "  ", want: []string{"✗ spec.request: is empty: put the base64 of the PEM request in it: " + fixEncodeOneLine}},
		{name: "PEM text", raw: string(csrPEM), wantData: true,
			want: []string{"✗ spec.request: holds PEM text, not its base64: Kubernetes decodes this field as base64 and refuses it" + fix}},
		{name: "wrapped at 76, folded into spaces by YAML", raw: wrap(oneLine, 76, " "), wantData: true,
			want: []string{"✗ spec.request: the base64 contains line breaks (wrapped at 76 columns), which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte 76)" + fix}},
		{name: "wrapped at 64", raw: wrap(oneLine, 64, " "), wantData: true,
			want: []string{"✗ spec.request: the base64 contains line breaks (wrapped at 64 columns), which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte 64)" + fix}},
		{name: "a space of unknown origin", raw: oneLine[:10] + " " + oneLine[10:], wantData: true,
			want: []string{"✗ spec.request: the base64 contains line breaks, which YAML folded into spaces, so Kubernetes cannot decode it (illegal base64 data at input byte 10)" + fix}},
		{name: "wrapped in a block scalar", raw: wrap(oneLine, 76, "\n") + "\n", wantData: true,
			want: []string{"⚠ spec.request: the base64 contains line breaks (wrapped at 76 columns); Kubernetes accepts them in a block scalar (request: |), but the same text pasted as a plain value is refused" + fix}},
		{name: "not base64", raw: "not*base64==", want: []string{"✗ spec.request: is not valid base64 (illegal base64 data at input byte 3)" + fix}},
		{name: "URL-safe alphabet", raw: base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe}),
			want: []string{`✗ spec.request: is not valid base64 (illegal base64 data at input byte 0): it uses the URL-safe alphabet ("-" and "_"), Kubernetes wants standard base64` + fix}},
		{name: "padding lost", raw: "QUJDRA", // base64 of "ABCD" is QUJDRA==
			want: []string{`✗ spec.request: is not valid base64 (illegal base64 data at input byte 4): it is cut short or lost its trailing "=" padding` + fix}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, got := CheckRequestText(tc.raw)
			diffLines(t, tc.want, got)
			if (data != nil) != tc.wantData {
				t.Errorf("data = %q, want data: %v", data, tc.wantData)
			}
			if data != nil && tc.name != "PEM text" && !bytes.Equal(data, csrPEM) {
				t.Errorf("data = %q, want the PEM request", data)
			}
		})
	}
}

func TestCheckRequestPEM(t *testing.T) {
	key := testkit.NewKey(t, testkit.P256)
	der := testkit.RequestDER(t, key, testkit.Request(t, "rahul", testkit.WithOrg("developers")))
	tampered := bytes.Clone(der)
	tampered[len(tampered)-1] ^= 0xff
	block, _ := pem.Decode(testkit.KeyPEM(t, key))
	keyDER := block.Bytes
	cert := certificate(t, "rahul", key.Public(), nil, key, epoch, epoch.Add(time.Hour), false)
	const keyFinding = "✗ spec.request: holds a private key: never send your private key: it must stay on your machine; send the request made from it (openssl req -new -key user.key -out user.csr, then base64 -w0 user.csr), and if this manifest was shared or applied, make a new key"

	cases := []struct {
		name    string
		data    []byte
		wantReq bool
		want    []string
	}{
		{name: "a valid request", data: testkit.PEM(testkit.RequestBlock, der), wantReq: true,
			want: []string{"✓ spec.request: a certificate request for CN=rahul, O=developers with an ECDSA P-256 key, signed with ECDSA-SHA256; the signature verifies"}},
		{name: "PKCS#8 private key", data: testkit.KeyPEM(t, key), want: []string{keyFinding}},
		{name: "EC private key", data: testkit.PEM("EC PRIVATE KEY", keyDER), want: []string{keyFinding}},
		{name: "private key before the request", data: append(testkit.KeyPEM(t, key), testkit.PEM(testkit.RequestBlock, der)...), want: []string{keyFinding}},
		{name: "private key after the request", data: append(testkit.PEM(testkit.RequestBlock, der), testkit.KeyPEM(t, key)...), wantReq: true, want: []string{keyFinding}},
		{name: "certificate", data: testkit.PEM(testkit.CertificateBlock, cert.Raw),
			want: []string{"✗ spec.request: holds a certificate, not a certificate request: Kubernetes issues the certificate, you send the request: " + fixMakeRequest() + "; to renew a certificate you hold, openssl x509 -x509toreq -in user.crt -signkey user.key -out user.csr"}},
		{name: "NEW CERTIFICATE REQUEST header", data: testkit.PEM("NEW CERTIFICATE REQUEST", der), wantReq: true,
			want: []string{`✗ spec.request: the PEM header is "BEGIN NEW CERTIFICATE REQUEST" (the old openssl -newhdr style); Kubernetes accepts only "BEGIN CERTIFICATE REQUEST": remove "NEW " from the BEGIN and END lines (sed -i 's/NEW CERTIFICATE REQUEST/CERTIFICATE REQUEST/' user.csr), then base64 -w0 user.csr`}},
		{name: "public key", data: testkit.PEM("PUBLIC KEY", []byte{1}),
			want: []string{"✗ spec.request: holds a public key, not a certificate request: the request carries the public key and your name, signed with the private key: " + fixMakeRequest()}},
		{name: "other block", data: testkit.PEM("X509 CRL", []byte{1}),
			want: []string{`✗ spec.request: the PEM block is a "X509 CRL"; Kubernetes wants a "CERTIFICATE REQUEST": ` + fixMakeRequest()}},
		{name: "DER", data: der,
			want: []string{"✗ spec.request: holds a DER (binary) request, not PEM: convert it with openssl req -inform DER -in user.csr -out user.pem, then base64 -w0 user.pem"}},
		{name: "base64 twice", data: []byte(base64.StdEncoding.EncodeToString(testkit.PEM(testkit.RequestBlock, der))),
			want: []string{"✗ spec.request: is base64-encoded twice: encode the PEM file once: base64 -w0 user.csr"}},
		{name: "text", data: []byte("hello"),
			want: []string{"✗ spec.request: does not hold a PEM certificate request: " + fixMakeRequest() + ", then base64 -w0 user.csr (macOS: base64 < user.csr | tr -d '\\n') and paste it on one line"}},
		{name: "garbage in the block", data: testkit.PEM(testkit.RequestBlock, []byte("garbage")),
			want: []string{"✗ spec.request: is not a valid PKCS#10 certificate request (asn1: structure error: tags don't match (16 vs {class:1 tag:7 length:97 isCompound:true}) {optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false} certificateRequest @2): " + fixMakeRequest()}},
		{name: "text after the request", data: append(testkit.PEM(testkit.RequestBlock, der), "made by openssl\n"...), wantReq: true,
			want: []string{"✗ spec.request: must be exactly one PEM block of type CERTIFICATE REQUEST: found text after the PEM block (kcsr refuses it; Kubernetes reads the first block only and stores the rest where every reader of CSRs sees it): send only the request: base64 -w0 user.csr"}},
		{name: "text before the request", data: append([]byte("Certificate Request:\n"), testkit.PEM(testkit.RequestBlock, der)...), wantReq: true,
			want: []string{"✗ spec.request: must be exactly one PEM block of type CERTIFICATE REQUEST: found text before the PEM block (kcsr refuses it; Kubernetes reads the first block only and stores the rest where every reader of CSRs sees it): send only the request: base64 -w0 user.csr"}},
		{name: "private key in DER after the request", data: append(testkit.PEM(testkit.RequestBlock, der), keyDER...), wantReq: true, want: []string{keyFinding}},
		{name: "signature does not verify", data: testkit.PEM(testkit.RequestBlock, tampered), wantReq: true,
			want: []string{"✗ spec.request: the request's signature does not verify (x509: ECDSA verification failure): it was changed after it was signed, or signed with another key: make it again from your key: " + fixMakeRequest()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, got := CheckRequestPEM(tc.data)
			diffLines(t, tc.want, got)
			if (req != nil) != tc.wantReq {
				t.Errorf("request returned: %v, want %v", req != nil, tc.wantReq)
			}
		})
	}
}
