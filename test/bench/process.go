package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// process is a server process the benchmark started and measures. Its stdout and stderr go
// to files in the work directory.
type process struct {
	name    string
	cmd     *exec.Cmd
	stdout  string
	stderr  string
	done    chan struct{}
	started time.Time
}

// startProcess runs bin with args; stdout and stderr go to logDir/<name>.stdout and .log.
func startProcess(logDir, name, bin string, args ...string) (*process, error) {
	return startProcessEnv(logDir, name, nil, bin, args...)
}

// startProcessEnv is startProcess with env added to the benchmark's own environment.
func startProcessEnv(logDir, name string, env []string, bin string, args ...string) (*process, error) {
	p := &process{
		name:   name,
		stdout: filepath.Join(logDir, name+".stdout"),
		stderr: filepath.Join(logDir, name+".log"),
		done:   make(chan struct{}),
	}
	out, err := os.Create(p.stdout)
	if err != nil {
		return nil, err
	}
	errf, err := os.Create(p.stderr)
	if err != nil {
		out.Close()
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	if len(env) > 0 {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = out, errf
	// Its own process group: a Ctrl-C to the benchmark does not reach the servers first,
	// and they are stopped in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		_ = p.cmd.Wait()
		out.Close()
		errf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitForOutput waits until the process printed want on stdout or stderr (its log); it
// returns how long after the start that was.
func (p *process) waitForOutput(ctx context.Context, want string, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		for _, f := range []string{p.stdout, p.stderr} {
			if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(want)) {
				return time.Since(p.started), nil
			}
		}
		if p.exited() {
			return 0, fmt.Errorf("%s exited before printing %q:\n%s", p.name, want, p.tail(30))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s did not print %q within %s:\n%s", p.name, want, timeout, p.tail(30))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, waits up to timeout, then kills. It returns how long the process took
// to exit.
func (p *process) stop(timeout time.Duration) time.Duration {
	if p.exited() {
		return 0
	}
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return time.Since(start)
}

// tail is the end of the process's log, for error messages.
func (p *process) tail(lines int) string {
	b, _ := os.ReadFile(p.stderr)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return fmt.Sprintf("--- %s (%s):\n%s", p.name, p.stderr, strings.Join(all, "\n"))
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
