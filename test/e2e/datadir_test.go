package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestDataDirInUse: one server per data directory (issue 13, item 9). A second server on a
// directory in use exits at once, non-zero, naming the process that holds the directory,
// and leaves the first one serving on its own etcd socket. The lock dies with its process:
// after kill -9 a new server takes the directory although the lock file is still there.
func TestDataDirInUse(t *testing.T) {
	s := framework.StartServer(t, "")
	sock := filepath.Join(s.DataDir, "etcd", "etcd.sock")
	sockBefore, err := os.Lstat(sock)
	if err != nil {
		t.Fatalf("the embedded etcd socket of the first server: %v", err)
	}
	lockFile := filepath.Join(s.DataDir, "kcsr.lock")

	second := framework.StartProcess(t, framework.Binary(t), "server", "--data-dir", s.DataDir, "--secure-port", fmt.Sprint(framework.FreePort(t)))
	started := time.Now()
	code := second.Wait(10 * time.Second)
	t.Logf("the second server exited with %d after %s", code, time.Since(started).Round(10*time.Millisecond))
	want := fmt.Sprintf("error: data directory %s is in use by process %d; stop that server first, or give this one another --data-dir\n", s.DataDir, s.PID())
	if code != 1 || second.Stderr() != want {
		t.Errorf("second server on the same data directory: exit %d, stderr %q; want exit 1, stderr %q", code, second.Stderr(), want)
	}
	if second.Stdout() != "" {
		t.Errorf("the second server printed %q on stdout; want nothing", second.Stdout())
	}

	// The first server is untouched: same etcd socket, reads and writes still work.
	if sockAfter, err := os.Lstat(sock); err != nil || !os.SameFile(sockBefore, sockAfter) {
		t.Errorf("the first server's etcd socket %s was replaced or removed (err %v)", sock, err)
	}
	framework.MustKubectl(t, s.Kubeconfig, "get", "csr")
	framework.MustKubectl(t, s.Kubeconfig, "create", "clusterrole", "written-after", "--verb", "get", "--resource", "certificatesigningrequests.certificates.k8s.io")

	// kill -9 leaves the lock file behind, holding the dead process's PID; it must not
	// keep the directory taken.
	killed := s.PID()
	s.Kill()
	if got := strings.TrimSpace(string(mustRead(t, lockFile))); got != strconv.Itoa(killed) {
		t.Errorf("%s after kill -9 holds %q; want the killed server's PID %d", lockFile, got, killed)
	}
	s.Start()
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "clusterrole", "written-after", "-o", "jsonpath={.metadata.name}"); got != "written-after" {
		t.Errorf("after kill -9 and restart: clusterrole %q", got)
	}
	if got := strings.TrimSpace(string(mustRead(t, lockFile))); got != strconv.Itoa(s.PID()) {
		t.Errorf("%s holds %q; want the running server's PID %d", lockFile, got, s.PID())
	}
	if fi, err := os.Stat(lockFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, err %v; want mode 0600", lockFile, fi.Mode(), err)
	}
}
