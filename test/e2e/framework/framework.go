// Package framework starts the real kcsr binary for end-to-end tests and drives it with the
// real kubectl and openssl, as a user would. Tests get a fresh data directory and a free
// port each; every process is stopped at test cleanup.
package framework

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds ./cmd/kcsr once per test binary and returns its path. KCSR_BINARY names a
// prebuilt binary instead.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("KCSR_BINARY"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "kcsr-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "kcsr")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/kcsr")
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/kcsr: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RemoveBinary deletes the binary Binary built, if any; call it from TestMain after m.Run.
func RemoveBinary() {
	if binPath != "" && os.Getenv("KCSR_BINARY") == "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

// RepoRoot is the module root.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Server is a running `kcsr server`.
type Server struct {
	t          testing.TB
	DataDir    string
	Port       int
	URL        string
	Kubeconfig string
	Args       []string

	cmd    *exec.Cmd
	stdout *SyncBuffer
	stderr *SyncBuffer
	done   chan struct{}
}

// StartServer starts `kcsr server` on a free port with a fresh data directory (or dataDir
// when it is not empty) and waits until it says it is ready.
func StartServer(t testing.TB, dataDir string, extraArgs ...string) *Server {
	t.Helper()
	if dataDir == "" {
		dataDir = filepath.Join(t.TempDir(), "data")
	}
	s := &Server{t: t, DataDir: dataDir, Port: FreePort(t)}
	s.Args = append([]string{"server", "--data-dir", dataDir, "--secure-port", fmt.Sprint(s.Port)}, extraArgs...)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts the process with the same arguments and waits for readiness.
func (s *Server) Start() {
	s.t.Helper()
	s.stdout, s.stderr = &SyncBuffer{}, &SyncBuffer{}
	s.cmd = exec.Command(Binary(s.t), s.Args...)
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	s.done = make(chan struct{})
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start kcsr server: %v", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	deadline := time.After(90 * time.Second)
	for !strings.Contains(s.stdout.String(), "kcsr server is ready at ") {
		select {
		case <-s.done:
			s.t.Fatalf("kcsr server exited before it was ready:\nstdout:\n%s\nstderr (tail):\n%s", s.stdout, tail(s.stderr.String(), 40))
		case <-deadline:
			s.t.Fatalf("kcsr server not ready after 90s:\nstderr (tail):\n%s", tail(s.stderr.String(), 40))
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.URL = fmt.Sprintf("https://127.0.0.1:%d", s.Port)
	s.Kubeconfig = filepath.Join(s.DataDir, "admin.kubeconfig")
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		s.t.Errorf("kcsr server did not stop within 60s of SIGTERM")
	}
}

// Running reports whether the server process is still running.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// PID is the process ID of the server last started.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stdout and Stderr return what the server printed so far.
func (s *Server) Stdout() string { return s.stdout.String() }
func (s *Server) Stderr() string { return s.stderr.String() }

// Result is the outcome of a command.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Combined is stdout followed by stderr.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

// Run runs a command with a timeout and returns its outcome; it never fails the test.
func Run(t testing.TB, stdin string, name string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		res.ExitCode = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return res
}

// Kubectl runs kubectl with the given kubeconfig.
func Kubectl(t testing.TB, kubeconfig string, args ...string) Result {
	t.Helper()
	return Run(t, "", KubectlBinary(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// Kcsr runs the kcsr binary with args against kubeconfig.
func Kcsr(t testing.TB, kubeconfig string, args ...string) Result {
	t.Helper()
	return Run(t, "", Binary(t), append(args, "--kubeconfig", kubeconfig)...)
}

// KubectlWatch starts kubectl with args (a watch: get -w) in the background and returns
// its stdout as it streams; kubectl is killed when the test ends.
func KubectlWatch(t testing.TB, kubeconfig string, args ...string) *SyncBuffer {
	t.Helper()
	watch := exec.Command(KubectlBinary(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	out := &SyncBuffer{}
	watch.Stdout = out
	if err := watch.Start(); err != nil {
		t.Fatalf("start kubectl %s: %v", strings.Join(args, " "), err)
	}
	t.Cleanup(func() { _ = watch.Process.Kill(); _ = watch.Wait() })
	return out
}

// KubectlStdin runs kubectl with stdin.
func KubectlStdin(t testing.TB, kubeconfig, stdin string, args ...string) Result {
	t.Helper()
	return Run(t, stdin, KubectlBinary(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
}

// MustKubectl runs kubectl and fails the test on a non-zero exit.
func MustKubectl(t testing.TB, kubeconfig string, args ...string) string {
	t.Helper()
	r := Kubectl(t, kubeconfig, args...)
	if r.ExitCode != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), r.ExitCode, r.Combined())
	}
	return r.Stdout
}

// KubectlBinary is $KUBECTL or kubectl on PATH.
func KubectlBinary() string {
	if k := os.Getenv("KUBECTL"); k != "" {
		return k
	}
	return "kubectl"
}

// Openssl runs openssl in dir and fails the test on error.
func Openssl(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Eventually polls cond until it returns true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TableRows parses `kubectl get` output into rows of fields.
func TableRows(out string) [][]string {
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// SyncBuffer is a bytes.Buffer that a process's output and a test may use at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// CopyPKI copies the PKI directory of the data directory from into the data directory to
// (created), keeping the files' modes: how an operator gives a new replica the cluster CA.
func CopyPKI(t testing.TB, from, to string) {
	t.Helper()
	src, dst := filepath.Join(from, "pki"), filepath.Join(to, "pki")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// WriteFile writes content to dir/name (0600) and returns the path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
