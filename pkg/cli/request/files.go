package request

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"kcsr.dev/kcsr/pkg/atomicfile"
)

// outputFile is one file of a set written together; write writes it atomically at path.
type outputFile struct {
	path  string
	write func() error
}

// dataFile is an outputFile of fixed content.
func dataFile(path string, data []byte, perm os.FileMode) outputFile {
	return outputFile{path: path, write: func() error { return atomicfile.WriteFile(path, data, perm) }}
}

// writeSet writes new files, each atomically, in order (the key first, so that a
// certificate or kubeconfig never exists without it). When one fails, the ones already
// written are removed again: the set appears whole or not at all. The files must not exist
// beforehand (checkNew).
func writeSet(files []outputFile) error {
	for i, f := range files {
		if err := f.write(); err != nil {
			for _, done := range files[:i] {
				os.Remove(done.path)
			}
			return fmt.Errorf("%w; %s", err, noFilesWritten)
		}
	}
	return nil
}

// checkNew refuses to start when a file of the set already exists: a working key or
// kubeconfig is never overwritten by a new one.
func checkNew(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists; move it away, or choose another --name or --out-dir", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// checkWritableDir makes sure dir is a directory where files can be created, before
// anything is sent to the server.
func checkWritableDir(flag, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %s is not a directory", flag, dir)
	}
	f, err := os.CreateTemp(dir, ".kcsr-write-test-*")
	if err != nil {
		return fmt.Errorf("%s %s is not writable: %w", flag, dir, err)
	}
	f.Close()
	return os.Remove(filepath.Clean(f.Name()))
}
