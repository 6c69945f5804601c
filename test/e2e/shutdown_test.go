package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// stopWithin is how long a clean stop may take, an open watch included.
const stopWithin = 10 * time.Second

// TestSignalShutdown: SIGTERM and SIGINT stop the server with exit code 0 within seconds,
// also while a client holds a watch open; a restart on the same data directory serves the
// same objects with the same CA (issue 2, Must have 2).
func TestSignalShutdown(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	mustCreateCSRAs(t, dir, kc, "survivor", clientSigner)
	mustCreateCSRAs(t, dir, kc, "pending-survivor", clientSigner)
	framework.MustKubectl(t, kc, "certificate", "approve", "survivor")
	framework.MustKubectl(t, kc, "create", "clusterrole", "survivor-role", "--verb", "get", "--resource", "certificatesigningrequests.certificates.k8s.io")
	caBefore := mustRead(t, s.CACertPath())
	uidBefore := framework.MustKubectl(t, kc, "get", "csr", "survivor", "-o", "jsonpath={.metadata.uid}")

	signalStop(t, s, "SIGTERM", syscall.SIGTERM, "")

	s.Start()
	if got := framework.MustKubectl(t, kc, "get", "csr", "survivor", "-o", "jsonpath={.metadata.uid} {.status.conditions[0].type}"); got != uidBefore+" Approved" {
		t.Errorf("after restart: survivor is %q, want %q", got, uidBefore+" Approved")
	}
	if got := condition(t, kc, "pending-survivor"); got != "Pending" {
		t.Errorf("after restart: pending-survivor is %q, want Pending", got)
	}
	if got := framework.MustKubectl(t, kc, "get", "clusterrole", "survivor-role", "-o", "jsonpath={.rules[0].verbs}"); got != `["get"]` {
		t.Errorf("after restart: survivor-role verbs %q", got)
	}
	if !bytes.Equal(caBefore, mustRead(t, s.CACertPath())) {
		t.Errorf("the restart replaced the cluster CA")
	}
	for _, f := range []string{"ca.key", "admin.key", "serving.key"} {
		if fi, err := os.Stat(filepath.Join(s.DataDir, "pki", f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("pki/%s after restart: %v %v, want mode 0600", f, fi.Mode(), err)
		}
	}

	// A client that keeps a watch open (kubectl get -w, any informer) must not hold the
	// shutdown up.
	watchOut := framework.KubectlWatch(t, kc, "get", "csr", "-w")
	framework.Eventually(t, 10*time.Second, "the watch to list the CSRs", func() bool {
		return strings.Contains(watchOut.String(), "pending-survivor")
	})
	signalStop(t, s, "SIGTERM with a watch open", syscall.SIGTERM,
		"http.Server.Shutdown waits for the open watch until ShutdownTimeout (60s) unless the "+
			"server config sets ShutdownWatchTerminationGracePeriod > 0, which ends watches when shutdown starts")

	s.Start()
	signalStop(t, s, "SIGINT", os.Interrupt, "")
}

// signalStop signals the server and checks that it exits with code 0 within stopWithin. A server
// that does not is killed, so that the rest of the test can go on; hint says why it may not.
func signalStop(t *testing.T, s *framework.Server, what string, sig os.Signal, hint string) {
	t.Helper()
	start := time.Now()
	s.Signal(sig)
	if !s.WaitExit(stopWithin) {
		t.Errorf("%s: kcsr server still running %s later (%s); stderr (tail):\n%s", what, stopWithin, hint, tailLines(s.Stderr(), 15))
		s.Kill()
		return
	}
	t.Logf("%s: exited in %s", what, time.Since(start).Round(time.Millisecond))
	if code := s.ExitCode(); code != 0 {
		t.Errorf("%s: exit code %d, want 0; stderr (tail):\n%s", what, code, tailLines(s.Stderr(), 30))
	}
}

func tailLines(s string, n int) string {
	lines := bytes.Split([]byte(s), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
