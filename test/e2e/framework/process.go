package framework

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Process is a command running in the background, e.g. a `kcsr request` waiting for
// approval or a `kcsr renew --watch`.
type Process struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdout *SyncBuffer
	stderr *SyncBuffer
	done   chan struct{}
}

// StartProcess starts name with args; when the test ends the process is killed if it
// still runs.
func StartProcess(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, stdout: &SyncBuffer{}, stderr: &SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s %s: %v", name, strings.Join(args, " "), err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits up to timeout for the process to exit and returns its exit code (-1 when a
// signal ended it); it fails the test when the process is still running.
func (p *Process) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args, " "), timeout, p.stdout, p.stderr)
		return -1
	}
}

// Stdout and Stderr return what the process printed so far.
func (p *Process) Stdout() string { return p.stdout.String() }
func (p *Process) Stderr() string { return p.stderr.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
