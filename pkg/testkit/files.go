package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes data to name in a new temporary directory of t with mode perm and
// returns its path.
func WriteFile(t testing.TB, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; tests mean the mode they ask for.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}
