package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain lets the tests run this binary as a second process that holds a data
// directory: KCSR_DATADIR_HOLD=<dir> locks dir, says "locked" and waits to be killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("KCSR_DATADIR_HOLD"); dir != "" {
		l, err := Acquire(dir)
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		// Kept reachable: a lock nobody refers to is garbage, and the finalizer of its
		// file closes it, which drops the flock (a flake seen under load).
		held = l
		fmt.Println("locked")
		select {}
	}
	os.Exit(m.Run())
}

// held is the holder process's lock.
var held *Lock

// holdInOtherProcess starts a process that holds dir and returns it once it does.
func holdInOtherProcess(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KCSR_DATADIR_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("the holder process said %q (%v); want locked", line, err)
	}
	return cmd
}

func TestAcquire(t *testing.T) {
	self := os.Getpid()
	cases := []struct {
		name string
		// setup prepares dir and returns the PID Acquire should report, if any.
		setup   func(t *testing.T, dir string) int
		wantErr func(dir string, pid int) string
	}{
		{
			name:  "new directory",
			setup: func(t *testing.T, dir string) int { return 0 },
		},
		{
			name: "lock file left by a dead process",
			setup: func(t *testing.T, dir string) int {
				mkdir(t, dir)
				writeLockFile(t, dir, "4194303\n")
				return 0
			},
		},
		{
			name: "lock file with garbage",
			setup: func(t *testing.T, dir string) int {
				mkdir(t, dir)
				writeLockFile(t, dir, "not a pid")
				return 0
			},
		},
		{
			name: "held by another process",
			setup: func(t *testing.T, dir string) int {
				return holdInOtherProcess(t, dir).Process.Pid
			},
			wantErr: func(dir string, pid int) string {
				return fmt.Sprintf("data directory %s is in use by process %d; stop that server first, or give this one another --data-dir", dir, pid)
			},
		},
		{
			name: "held by this process",
			setup: func(t *testing.T, dir string) int {
				l, err := Acquire(dir)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(l.Release)
				return self
			},
			wantErr: func(dir string, pid int) string {
				return fmt.Sprintf("data directory %s is in use by process %d; stop that server first, or give this one another --data-dir", dir, pid)
			},
		},
		{
			name: "held by a process that has not written its PID",
			setup: func(t *testing.T, dir string) int {
				mkdir(t, dir)
				f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
					t.Fatal(err)
				}
				return 0
			},
			wantErr: func(dir string, _ int) string {
				return fmt.Sprintf("data directory %s is in use by another process; stop that server first, or give this one another --data-dir", dir)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			pid := tc.setup(t, dir)
			l, err := Acquire(dir)
			if tc.wantErr != nil {
				want := tc.wantErr(dir, pid)
				var inUse *InUseError
				if err == nil || err.Error() != want || !errors.As(err, &inUse) || inUse.PID != pid {
					t.Fatalf("Acquire = %v; want *InUseError %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer l.Release()
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("data directory: %v (err %v); want mode 0700", fi.Mode(), err)
			}
			path := filepath.Join(dir, LockFile)
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("lock file: %v (err %v); want mode 0600", fi.Mode(), err)
			}
			if got, want := readFile(t, path), strconv.Itoa(self)+"\n"; got != want {
				t.Errorf("lock file holds %q; want %q", got, want)
			}
		})
	}
}

// TestLockDiesWithItsProcess: after kill -9 of the holder the directory is free, though
// the lock file still names the dead process.
func TestLockDiesWithItsProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	holder := holdInOtherProcess(t, dir)
	if _, err := Acquire(dir); err == nil {
		t.Fatal("Acquire succeeded while another process holds the directory")
	}
	if err := holder.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	path := filepath.Join(dir, LockFile)
	if got, want := readFile(t, path), strconv.Itoa(holder.Process.Pid)+"\n"; got != want {
		t.Fatalf("lock file after kill -9 holds %q; want the dead holder's %q", got, want)
	}
	start := time.Now()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	defer l.Release()
	if took := time.Since(start); took > pidWait/2 {
		t.Errorf("Acquire took %s; it must not wait on a free directory", took)
	}
	if got, want := readFile(t, path), strconv.Itoa(os.Getpid())+"\n"; got != want {
		t.Errorf("lock file holds %q; want %q", got, want)
	}
}

func TestRelease(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	l.Release() // twice is harmless
	if got := readFile(t, filepath.Join(dir, LockFile)); got != "" {
		t.Errorf("lock file after Release holds %q; want it empty", got)
	}
	again, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

func writeLockFile(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
