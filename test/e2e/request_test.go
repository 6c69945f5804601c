package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestRequest: issue 5 acceptance (a) and (b): from nothing to a working login in one
// command; denied, failed, timed-out and interrupted requests exit non-zero with the
// reason and leave no files.
func TestRequest(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	out := t.TempDir()

	start := func(name string, extra ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		t.Helper()
		args := append([]string{"request", "--kubeconfig", kc, "--name", name, "--user", name, "--group", "developers", "--out-dir", out}, extra...)
		cmd := exec.Command(framework.Binary(t), args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		framework.Eventually(t, 20*time.Second, "the CSR "+name+" to exist", func() bool {
			return framework.Kubectl(t, kc, "get", "csr", name).ExitCode == 0
		})
		return cmd, &stdout, &stderr
	}
	exitCode := func(cmd *exec.Cmd) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("kcsr request did not exit")
		}
		return cmd.ProcessState.ExitCode()
	}
	noFiles := func(name string) {
		t.Helper()
		for _, ext := range []string{".key", ".crt", ".kubeconfig"} {
			if _, err := os.Stat(filepath.Join(out, name+ext)); err == nil {
				t.Errorf("%s%s was written", name, ext)
			}
		}
		if matches, _ := filepath.Glob(filepath.Join(out, "."+name+"*")); len(matches) > 0 {
			t.Errorf("temporary files left: %v", matches)
		}
	}

	t.Run("approved by an admin", func(t *testing.T) {
		cmd, stdout, stderr := start("rahul")
		framework.MustKubectl(t, kc, "certificate", "approve", "rahul")
		if code := exitCode(cmd); code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"created CSR rahul", "approved: KubectlApprove", "issued: serial"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, stdout)
			}
		}
		if fi, err := os.Stat(filepath.Join(out, "rahul.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("rahul.key: %v, mode %v; want 0600", err, fi.Mode())
		}
		who := framework.MustKubectl(t, filepath.Join(out, "rahul.kubeconfig"), "auth", "whoami")
		if !strings.Contains(who, "rahul") || !strings.Contains(who, "developers") {
			t.Errorf("kubectl --kubeconfig rahul.kubeconfig auth whoami:\n%s", who)
		}
	})
	t.Run("denied", func(t *testing.T) {
		cmd, _, stderr := start("denied")
		framework.MustKubectl(t, kc, "certificate", "deny", "denied")
		if code := exitCode(cmd); code != 2 || !strings.Contains(stderr.String(), "CSR denied was denied: KubectlDeny") {
			t.Errorf("exit %d, stderr %q; want 2 with the reason", code, stderr)
		}
		noFiles("denied")
	})
	t.Run("failed", func(t *testing.T) {
		cmd, _, stderr := start("failed", "--usage", "client auth", "--usage", "server auth")
		framework.MustKubectl(t, kc, "certificate", "approve", "failed")
		if code := exitCode(cmd); code != 3 || !strings.Contains(stderr.String(), "SignerValidationFailure: invalid usage for client certificate: server auth") {
			t.Errorf("exit %d, stderr %q; want 3 with the signer's message", code, stderr)
		}
		noFiles("failed")
	})
	t.Run("timeout", func(t *testing.T) {
		cmd, _, stderr := start("slow", "--wait", "2s")
		if code := exitCode(cmd); code != 4 || !strings.Contains(stderr.String(), "timed out while CSR slow was Pending; no files were written") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		noFiles("slow")
	})
	t.Run("interrupted", func(t *testing.T) {
		cmd, _, stderr := start("interrupted")
		_ = cmd.Process.Signal(syscall.SIGINT)
		if code := exitCode(cmd); code != 4 || !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		noFiles("interrupted")
	})
	t.Run("bad input changes nothing", func(t *testing.T) {
		r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--name", "bad", "--user", "bad", "--key-type", "rsa-1024", "--ip-address", "10.0.0.300", "--out-dir", out)
		if r.ExitCode != 1 || !strings.Contains(r.Stderr, `--key-type "rsa-1024"`) || !strings.Contains(r.Stderr, `--ip-address "10.0.0.300"`) {
			t.Errorf("exit %d\n%s", r.ExitCode, r.Stderr)
		}
		if framework.Kubectl(t, kc, "get", "csr", "bad").ExitCode == 0 {
			t.Errorf("a CSR was created despite bad flags")
		}
	})
	t.Run("kubeconfig from files", func(t *testing.T) {
		r := framework.Run(t, "", framework.Binary(t), "kubeconfig", "--kubeconfig", kc, "--key", filepath.Join(out, "rahul.key"), "--cert", filepath.Join(out, "rahul.crt"), "--out", filepath.Join(out, "assembled.kubeconfig"))
		if r.ExitCode != 0 {
			t.Fatalf("kcsr kubeconfig: %s", r.Combined())
		}
		if who := framework.MustKubectl(t, filepath.Join(out, "assembled.kubeconfig"), "auth", "whoami"); !strings.Contains(who, "rahul") {
			t.Errorf("assembled kubeconfig: %s", who)
		}
		other := framework.GoCSR(t, out, "stranger", "x", nil, nil, nil) // writes stranger.key
		_ = other
		r = framework.Run(t, "", framework.Binary(t), "kubeconfig", "--kubeconfig", kc, "--key", filepath.Join(out, "stranger.key"), "--cert", filepath.Join(out, "rahul.crt"))
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "does not match") {
			t.Errorf("mismatched key: %s", r.Combined())
		}
	})
}
