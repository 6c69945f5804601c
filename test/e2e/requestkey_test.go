package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestRequestHoldsOnlyTheRequest (issue 13 item 6): spec.request must be exactly one
// CERTIFICATE REQUEST PEM block. A private key sent with the request or instead of it, in
// every shape openssl and a shell make, is refused at create, nothing is stored, and
// neither kubectl's output nor the server's log shows any of the key.
func TestRequestHoldsOnlyTheRequest(t *testing.T) {
	// The user's files first: openssl makes them before any server is involved.
	dir := t.TempDir()
	framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	framework.Openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.key")
	framework.Openssl(t, dir, "pkey", "-in", "user.key", "-outform", "DER", "-out", "user.der")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	csrPEM, keyPEM, ecKeyPEM, keyDER := read("user.csr"), read("user.key"), read("ec.key"), read("user.der")
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	var indented bytes.Buffer // sed 's/^/    /' user.key
	for _, line := range strings.SplitAfter(string(keyPEM), "\n") {
		if line != "" {
			indented.WriteString("    " + line)
		}
	}
	withoutEnd := keyPEM[:bytes.LastIndex(keyPEM, []byte("-----END"))] // head -n -1 user.key
	keyBlock, _ := pem.Decode(keyPEM)
	relabelled := pem.EncodeToMemory(&pem.Block{Type: "DATA", Bytes: keyBlock.Bytes})
	keyText := []byte(base64.StdEncoding.EncodeToString(keyDER)) // the PEM body, one line
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig

	const (
		keyRefused   = `spec.request: Invalid value: "<private key omitted>": must be exactly one PEM block of type CERTIFICATE REQUEST: found a private key; never send a private key`
		sendOnly     = "; send only the certificate request (base64 -w0 < user.csr), never the private key"
		invalidValue = "spec.request: Invalid value: must be exactly one PEM block of type CERTIFICATE REQUEST: found "
	)
	cases := []struct {
		name  string
		value []byte // what base64 -w0 encodes
		want  string
	}{
		{"csr-then-key", cat(csrPEM, keyPEM), keyRefused},
		{"key-then-csr", cat(keyPEM, csrPEM), keyRefused},
		{"csr-then-ec-key", cat(csrPEM, ecKeyPEM), keyRefused},
		{"key-alone", keyPEM, keyRefused},
		{"der-key", keyDER, keyRefused},
		{"key-base64-text", keyText, keyRefused},
		{"indented-key", indented.Bytes(), keyRefused},
		{"csr-then-indented-key", cat(csrPEM, indented.Bytes()), keyRefused},
		{"key-without-end", withoutEnd, keyRefused},
		{"csr-then-key-without-end", cat(csrPEM, withoutEnd), keyRefused},
		{"key-relabelled", relabelled, keyRefused},
		{"csr-then-key-relabelled", cat(csrPEM, relabelled), keyRefused},
		{"text-before", cat([]byte("Certificate Request:\n"), csrPEM), invalidValue + "text before the PEM block" + sendOnly},
		{"text-after", cat(csrPEM, []byte("# made with openssl\n")), invalidValue + "text after the PEM block" + sendOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			value := base64.StdEncoding.EncodeToString(tc.value)
			path := framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, value, clientSigner, 86400, "client auth"))
			r := framework.Kubectl(t, kc, "create", "-f", path)
			if r.ExitCode == 0 {
				t.Fatalf("create succeeded; want a refusal\n%s", r.Combined())
			}
			if want := `The CertificateSigningRequest "` + tc.name + `" is invalid: ` + tc.want; !strings.Contains(r.Stderr, want) {
				t.Errorf("kubectl says:\n%s\nwant it to contain:\n%s", r.Stderr, want)
			}
			assertNoKeyMaterial(t, "kubectl's output", r.Combined(), [][]byte{keyDER, keyPEM, ecKeyPEM}, value)
			if g := framework.Kubectl(t, kc, "get", "csr", tc.name); g.ExitCode == 0 || !strings.Contains(g.Stderr, "NotFound") {
				t.Errorf("a refused CSR was stored: %s", g.Combined())
			}
		})
	}

	// The key as PEM text, not base64: refused while decoding (400), without the key.
	t.Run("key-as-pem-text", func(t *testing.T) {
		var manifest strings.Builder
		manifest.WriteString(strings.Replace(framework.CSRManifest("key-as-pem-text", "|", clientSigner, 86400, "client auth"), "  request: |\n", "", 1))
		manifest.WriteString("  request: |\n")
		for _, line := range strings.SplitAfter(string(keyPEM), "\n") {
			if line != "" {
				manifest.WriteString("    " + line)
			}
		}
		r := framework.Kubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "key-as-pem-text.yaml", manifest.String()))
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "spec.request: Invalid value:") || !strings.Contains(r.Stderr, "the value is raw PEM") {
			t.Fatalf("want a refusal naming spec.request, got exit %d:\n%s", r.ExitCode, r.Combined())
		}
		assertNoKeyMaterial(t, "kubectl's output", r.Combined(), [][]byte{keyDER, keyPEM, ecKeyPEM})
	})

	// The request alone, with the whitespace editors and shells leave around it, is fine.
	t.Run("csr-with-whitespace", func(t *testing.T) {
		value := base64.StdEncoding.EncodeToString(cat([]byte("\n"), csrPEM, []byte("\n\n")))
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "ok.yaml", framework.CSRManifest("csr-with-whitespace", value, clientSigner, 86400, "client auth")))
	})

	if got := framework.MustKubectl(t, kc, "get", "csr", "-o", "name"); strings.TrimSpace(got) != "certificatesigningrequest.certificates.k8s.io/csr-with-whitespace" {
		t.Errorf("stored CSRs = %q, want only csr-with-whitespace", got)
	}
	assertNoKeyMaterial(t, "the server's log", s.Stdout()+s.Stderr(), [][]byte{keyDER, keyPEM, ecKeyPEM})
}

// assertNoKeyMaterial fails when out holds 16 characters in a row of the base64 of any of
// secrets (of the files, and of the DER in their PEM blocks) or of sent (spec.request as
// sent, which kube-apiserver echoes).
func assertNoKeyMaterial(t *testing.T, what, out string, secrets [][]byte, sent ...string) {
	t.Helper()
	const window = 16
	texts := sent
	for _, s := range secrets {
		texts = append(texts, base64.StdEncoding.EncodeToString(s))
		for rest := s; ; {
			block, next := pem.Decode(rest)
			if block == nil {
				break
			}
			texts = append(texts, base64.StdEncoding.EncodeToString(block.Bytes))
			rest = next
		}
	}
	for _, text := range texts {
		for i := 0; i+window <= len(text); i++ {
			if strings.Contains(out, text[i:i+window]) {
				t.Fatalf("%s holds %q, a piece of the key:\n%s", what, text[i:i+window], out)
			}
		}
	}
}
