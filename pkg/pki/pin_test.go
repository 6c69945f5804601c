package pki

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestCAPinMatchesOpenSSL: the pin is the one kubeadm's documentation computes with
// openssl (the SHA-256 of the DER public key).
func TestCAPinMatchesOpenSSL(t *testing.T) {
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	file := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(file, pemutil.EncodeCertificate(ca.Cert.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("sh", "-c", "openssl x509 -pubkey -noout -in "+file+" | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	fields := strings.Fields(string(out))
	if want := "sha256:" + fields[len(fields)-1]; CAPin(ca.Cert) != want {
		t.Errorf("CAPin = %s; openssl says %s", CAPin(ca.Cert), want)
	}
}

func TestParseCAPin(t *testing.T) {
	const hex = "7413fa76f7f2fd57c5b0bf35554f5b04612ca3118014e49a29e0fbf4d0d16795"
	for _, tc := range []struct{ in, want, err string }{
		{in: "sha256:" + hex, want: "sha256:" + hex},
		{in: " SHA256:" + strings.ToUpper(hex) + " ", want: "sha256:" + hex},
		{in: hex, err: `--ca-hash "` + hex + `": want sha256:<64 hex digits>, the CA hash kcsr token create prints`},
		{in: "md5:abcd", err: `--ca-hash "md5:abcd": want sha256:<64 hex digits>, the CA hash kcsr token create prints`},
		{in: "sha256:abcd", err: `--ca-hash "sha256:abcd": want sha256: and 64 hex digits, the CA hash kcsr token create prints`},
	} {
		got, err := ParseCAPin("--ca-hash", tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseCAPin(%q) error = %v; want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCAPin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
