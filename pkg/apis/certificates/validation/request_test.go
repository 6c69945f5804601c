package validation

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestValidateRequestHoldsOnlyTheRequest: spec.request is exactly one CERTIFICATE REQUEST
// block; a private key sent in any shape, alone or with the request, is refused, and no
// error ever shows any of it.
func TestValidateRequestHoldsOnlyTheRequest(t *testing.T) {
	pki := newTestPKI(t)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var indentedKey bytes.Buffer
	for _, line := range bytes.SplitAfter(pki.keyPEM, []byte("\n")) {
		if len(line) > 0 {
			indentedKey.WriteString("  ")
			indentedKey.Write(line)
		}
	}
	keyWithoutEnd := pki.keyPEM[:bytes.LastIndex(pki.keyPEM, []byte("-----END"))]
	keyAsData := pem.EncodeToMemory(&pem.Block{Type: "DATA", Bytes: pki.keyDER})
	const keyError = `spec.request: Invalid value: "<private key omitted>": must be exactly one PEM block of type CERTIFICATE REQUEST: found a private key; ` +
		"never send a private key, and make a new one if this one was shared: send only the certificate request made from it (openssl req -new -key user.key -out user.csr), encoded with base64 -w0 < user.csr"

	cases := []struct {
		name    string
		request []byte
		want    []string
	}{
		{name: "the request", request: pki.request},
		{name: "the request with whitespace around it", request: cat([]byte("\n\n"), pki.request, []byte("\n \t\n"))},

		{name: "the request then its key (cat user.csr user.key)", request: cat(pki.request, pki.keyPEM), want: []string{keyError}},
		{name: "the key then the request", request: cat(pki.keyPEM, pki.request), want: []string{keyError}},
		{name: "the key instead of the request", request: pki.keyPEM, want: []string{keyError}},
		{name: "the key in DER", request: pki.keyDER, want: []string{keyError}},
		{name: "the key's base64 text", request: []byte(base64.StdEncoding.EncodeToString(pki.keyDER)), want: []string{keyError}},
		{name: "an indented PEM key", request: indentedKey.Bytes(), want: []string{keyError}},
		{name: "the request then an indented key", request: cat(pki.request, indentedKey.Bytes()), want: []string{keyError}},
		{name: "a PEM key without its END line", request: keyWithoutEnd, want: []string{keyError}},
		{name: "the request then a key without its END line", request: cat(pki.request, keyWithoutEnd), want: []string{keyError}},
		{name: "the key in a PEM block of another type", request: keyAsData, want: []string{keyError}},
		{name: "the request then the key in a PEM block of another type", request: cat(pki.request, keyAsData), want: []string{keyError}},

		{name: "text before the request", request: cat([]byte("Certificate Request:\n"), pki.request), want: []string{encodingError("text before the PEM block")}},
		{name: "text after the request", request: cat(pki.request, []byte("end\n")), want: []string{encodingError("text after the PEM block")}},
		{name: "two requests", request: cat(pki.request, pki.request), want: []string{encodingError("more than one PEM block")}},
		{
			name:    "the legacy NEW CERTIFICATE REQUEST type, which Kubernetes refuses too",
			request: bytes.ReplaceAll(pki.request, []byte("CERTIFICATE REQUEST"), []byte("NEW CERTIFICATE REQUEST")),
			want:    []string{encodingError(`a PEM block of type "NEW CERTIFICATE REQUEST"`)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := errorStrings(ValidateCertificateSigningRequestCreate(newCSR(pki, testkit.SetRequest(tc.request))))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, msg := range got {
				assertNoKeyMaterial(t, msg, tc.request, pki.keyDER)
			}
		})
	}
}

// assertNoKeyMaterial fails when msg holds 8 characters in a row of the key's base64 (the
// text of a PEM body, and of an echo of the DER) or of request's base64 (the echo of the
// value, as kube-apiserver shows spec.request).
func assertNoKeyMaterial(t testing.TB, msg string, request, keyDER []byte) {
	t.Helper()
	const window = 8
	for _, text := range []string{base64.StdEncoding.EncodeToString(keyDER), base64.StdEncoding.EncodeToString(request)} {
		for i := 0; i+window <= len(text); i++ {
			if strings.Contains(msg, text[i:i+window]) {
				t.Fatalf("error %q holds %q, a piece of the key or of the value sent", msg, text[i:i+window])
			}
		}
	}
}
