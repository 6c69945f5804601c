package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestJoin: issue 16 item 2. kcsr token create prints the whole command to hand over (the
// server, the token, the CA's pin, the identity); kcsr join reads the CA from the TLS
// handshake, keeps it only when it matches the pin, and gets the certificate and a
// kubeconfig. A join whose CSR is denied (a group the token does not allow) runs again
// as it is; a wrong pin is refused before the token is sent.
func TestJoin(t *testing.T) {
	s := framework.StartServer(t, "")
	r := framework.Kcsr(t, s.Kubeconfig, "token", "create", "--user", "rahul", "--group", "developers", "--print-join-command")
	wantExit(t, "kcsr token create --print-join-command", r.ExitCode, 0, r.Stdout, r.Stderr)
	join := strings.Fields(strings.TrimSpace(r.Stdout))
	pin := pki.CAPin(parseCert(t, mustRead(t, s.CACertPath())))
	if len(join) < 9 || join[0] != "kcsr" || join[1] != "join" || join[2] != s.URL || !strings.Contains(r.Stdout, "--ca-hash "+pin) || !strings.HasSuffix(strings.TrimSpace(r.Stdout), "--user rahul --group developers") {
		t.Fatalf("the join command: %q; want kcsr join %s --token … --ca-hash %s --user rahul --group developers", r.Stdout, s.URL, pin)
	}
	wantContains(t, "kcsr token create's message", r.Stderr, "hand rahul this command over a trusted channel", strings.TrimSpace(r.Stdout))
	tokenAt := func(args []string) string {
		for i, a := range args {
			if a == "--token" {
				return args[i+1]
			}
		}
		t.Fatalf("no --token in %v", args)
		return ""
	}
	token := tokenAt(join)
	out := t.TempDir()
	run := func(args ...string) framework.Result {
		return framework.Run(t, "", framework.Binary(t), append(args, "--out-dir", out)...)
	}

	t.Run("bad input", func(t *testing.T) {
		r := run("join", "http://"+strings.TrimPrefix(s.URL, "https://"), "--token", token, "--ca-hash", "md5:abc")
		wantExit(t, "kcsr join with bad flags", r.ExitCode, 1, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, "want the server's https:// URL", `--ca-hash "md5:abc": want sha256:<64 hex digits>`, "--user is required")
	})
	t.Run("a pin of another CA", func(t *testing.T) {
		other := pki.CAPin(testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).Cert)
		r := run("join", s.URL, "--token", token, "--ca-hash", other, "--user", "rahul", "--group", "developers")
		wantExit(t, "kcsr join with another CA's pin", r.ExitCode, 5, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, "does not show a CA with the pin "+other, pin, "nothing was sent to it")
		if got := framework.MustKubectl(t, s.Kubeconfig, "get", "csr", "-o", "name"); strings.TrimSpace(got) != "" {
			t.Errorf("CSRs created despite the wrong pin: %s", got)
		}
	})
	t.Run("denied then joined", func(t *testing.T) {
		args := append([]string{"join"}, join[2:]...)
		r := run(append(args, "--group", "admins")...)
		wantExit(t, "kcsr join with a group the token does not allow", r.ExitCode, 2, r.Stdout, r.Stderr)
		r = run(args...)
		wantExit(t, "kcsr join, again", r.ExitCode, 0, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, "matches "+pin)
		kubeconfigs, _ := filepath.Glob(filepath.Join(out, "rahul-*.kubeconfig"))
		if len(kubeconfigs) != 1 {
			t.Fatalf("kubeconfigs written: %v; want one", kubeconfigs)
		}
		wantWhoami(t, kubeconfigs[0], "rahul", "developers")
		if data, err := os.ReadFile(kubeconfigs[0]); err != nil || !strings.Contains(string(data), "server: "+s.URL) {
			t.Errorf("the kubeconfig does not name the server %s (%v)", s.URL, err)
		}
	})
}
