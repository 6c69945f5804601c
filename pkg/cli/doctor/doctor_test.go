package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/testkit"
)

// TestRunOffline runs the modes that need no server on files, as the command does.
func TestRunOffline(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, other := testkit.NewKey(t, testkit.P256), testkit.NewKey(t, testkit.P256)
	csrFile := write("user.csr", testkit.RequestPEM(t, key, testkit.Request(t, "rahul")))
	keyFile := write("user.key", testkit.KeyPEM(t, key))
	otherKey := write("other.key", testkit.KeyPEM(t, other))
	certFile := write("user.crt", testkit.PEM(testkit.CertificateBlock, certificate(t, "rahul", key.Public(), nil, key, epoch.Add(-time.Hour), epoch.Add(9*time.Hour), false).Raw))
	const requestOK = "✓ spec.request: a certificate request for CN=rahul with an ECDSA P-256 key, signed with ECDSA-SHA256; the signature verifies"

	cases := []struct {
		name     string
		opts     Options
		stdin    string
		want     []string
		wantCode int
	}{
		{name: "a PEM request and its key", opts: Options{File: csrFile, KeyFile: keyFile},
			want: []string{requestOK, "✓ key " + keyFile + ": matches the request (ECDSA P-256, public key " + publicKeyID(key.Public()) + ")"}},
		{name: "a PEM request and another key", opts: Options{File: csrFile, KeyFile: otherKey}, wantCode: ExitProblem,
			want: []string{requestOK, "✗ key " + otherKey + ": does not match the request: the key's public key is ECDSA P-256 " + publicKeyID(other.Public()) + ", the request's is ECDSA P-256 " + publicKeyID(key.Public()) +
				": use the key the request was made from (keep NAME.key next to NAME.crt), or request a new certificate for this key (kcsr request --key FILE)"}},
		{name: "a manifest on stdin", opts: Options{File: "-"}, stdin: manifest(strings.Repeat("A", 8)), wantCode: ExitProblem,
			want: []string{"✗ spec.request: does not hold a PEM certificate request: " + fixMakeRequest() + ", then base64 -w0 user.csr (macOS: base64 < user.csr | tr -d '\\n') and paste it on one line"}},
		{name: "a certificate and its key", opts: Options{CertFile: certFile, KeyFile: keyFile},
			want: []string{
				"✓ certificate " + certFile + " (CN=rahul): valid until 2030-01-01T09:00:00Z (9h left)",
				"✓ key " + keyFile + ": matches the certificate (ECDSA P-256, public key " + publicKeyID(key.Public()) + ")",
			}},
		{name: "a key where the certificate belongs", opts: Options{CertFile: keyFile}, wantCode: ExitProblem,
			want: []string{"✗ certificate " + keyFile + ": holds a private key, not a certificate: pass the .crt file (BEGIN CERTIFICATE)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Clock = clocktesting.NewFakePassiveClock(epoch)
			o.In = strings.NewReader(tc.stdin)
			if err := o.Complete(nil); err != nil {
				t.Fatal(err)
			}
			if err := o.Validate(); err != nil {
				t.Fatal(err)
			}
			report, err := o.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, report.Lines()); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if got := report.ExitCode(); got != tc.wantCode {
				t.Errorf("exit code %d, want %d", got, tc.wantCode)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{name: "a CSR", opts: Options{Name: "rahul"}},
		{name: "a kubeconfig", opts: Options{}},
		{name: "NAME and -f", opts: Options{Name: "rahul", File: "csr.yaml"}, want: "give either a CSR NAME or -f FILE, not both"},
		{name: "-f and --cert", opts: Options{File: "csr.yaml", CertFile: "user.crt"}, want: "--cert does not go with -f: check the certificate on its own (kcsr doctor --cert C --key K)"},
		{name: "NAME and --cert", opts: Options{Name: "rahul", CertFile: "user.crt"}, want: "--cert does not go with a CSR NAME: doctor checks the CSR's own certificate; pass --key to check your key against it"},
		{name: "--key alone", opts: Options{KeyFile: "user.key"}, want: "--key needs something to check it against: --cert C, a CSR NAME, -f FILE or --kubeconfig FILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testkit.ExpectError(t, tc.opts.Validate(), tc.want)
		})
	}
}
