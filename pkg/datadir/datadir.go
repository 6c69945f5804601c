// Package datadir makes a kcsr data directory the property of one process at a time. Two
// `kcsr server`s on one directory would run two etcd members over the same files and the
// second would replace the first's etcd socket, so the server takes an exclusive flock(2)
// on DIR/kcsr.lock before anything else touches the directory, and holds it until it
// exits. The file records the holder's PID for the error a second server prints.
//
// The kernel releases a flock when its process ends, however it ends: a lock file left by
// a server killed with SIGKILL holds a dead PID but no lock, and never keeps the directory
// taken. The file is never removed: removing it while another process has it open but not
// yet locked would let two processes lock two different files of the same name.
//
// The package owns the lock file and nothing else in the directory.
package datadir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// LockFile is the name of the lock file inside the data directory.
const LockFile = "kcsr.lock"

// InUseError is returned by Lock when another process holds the directory.
type InUseError struct {
	Dir string
	// PID is the holder's process ID, 0 when the lock file does not say.
	PID int
}

func (e *InUseError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = "process " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by %s; stop that server first, or give this one another --data-dir", e.Dir, holder)
}

// Lock is the held lock of a data directory.
type Lock struct {
	f *os.File
}

// pidWait is how long Lock waits for a holder that has just taken the lock to write its
// PID (the lock is taken before the PID is written).
const pidWait = time.Second

// Acquire takes the lock of dir, creating dir (mode 0700) when it does not exist. It does
// not wait: when another process holds the directory it returns an *InUseError at once.
// Keep the returned Lock until the process stops using the directory.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the data directory's lock file: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock the data directory: flock %s: %w", path, err)
		}
		return nil, &InUseError{Dir: dir, PID: holderPID(path)}
	}
	l := &Lock{f: f}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err != nil {
		l.Release()
		return nil, fmt.Errorf("record the PID in %s: %w", path, err)
	}
	if _, err := f.WriteAt(pid, 0); err != nil {
		l.Release()
		return nil, fmt.Errorf("record the PID in %s: %w", path, err)
	}
	return l, nil
}

// Release empties the lock file and releases the lock. It is safe to call twice; the
// lock is also released when the process ends.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	// Empty first: once unlocked, the PID would name a process that no longer holds it.
	_ = l.f.Truncate(0)
	_ = l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
}

// flock takes an exclusive flock on f without waiting, retrying on EINTR.
func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// holderPID reads the PID the holder recorded, waiting up to pidWait for a holder that
// has locked but not yet written. It returns 0 when the file does not say.
func holderPID(path string) int {
	deadline := time.Now().Add(pidWait)
	for {
		if pid := readPID(path); pid > 0 || time.Now().After(deadline) {
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
