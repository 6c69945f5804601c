package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestSecurePortZero: `--secure-port 0` picks a free port, as its help says, and the
// ready message names it; kubectl works there with the admin kubeconfig. (It used to panic:
// k8s.io/apiserver reads port 0 as "serve nothing".)
func TestSecurePortZero(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	p := framework.StartProcess(t, framework.Binary(t), "server", "--data-dir", dataDir, "--secure-port", "0")
	ready := regexp.MustCompile(`kcsr server is ready at https://127\.0\.0\.1:(\d+) `)
	framework.Eventually(t, 60*time.Second, "the ready message", func() bool {
		return ready.MatchString(p.Stdout()) || p.Exited()
	})
	m := ready.FindStringSubmatch(p.Stdout())
	if m == nil || m[1] == "0" {
		t.Fatalf("no ready message with a port:\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	}
	out := framework.MustKubectl(t, filepath.Join(dataDir, "admin.kubeconfig"), "auth", "whoami")
	if !strings.Contains(out, "kcsr-admin") {
		t.Errorf("kubectl auth whoami on port %s:\n%s", m[1], out)
	}
}
