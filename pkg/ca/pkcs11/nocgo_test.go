//go:build !cgo

package pkcs11

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestNewWithoutCgo(t *testing.T) {
	_, err := New(context.Background(), Config{URI: "pkcs11:token=kcsr;object=ca"}, time.Time{})
	want := "pkcs11: kcsr was built without cgo; PKCS#11 needs a cgo build (CGO_ENABLED=1 and a C compiler)"
	if err == nil || err.Error() != want {
		t.Errorf("New() error = %v, want %q", err, want)
	}
}

// TestSoftHSM2NeedsCgo fails a build that lost cgo by accident (the go command turns cgo off
// when it finds no C compiler), which would otherwise drop the SoftHSM2 tests without a
// word. A deliberate CGO_ENABLED=0 run passes.
func TestSoftHSM2NeedsCgo(t *testing.T) {
	if os.Getenv("CGO_ENABLED") == "0" {
		return
	}
	t.Fatal("this test binary was built without cgo, so the SoftHSM2 tests of the PKCS#11 backend did not run: " +
		"install a C compiler (hack/install-deps.sh installs gcc), or set CGO_ENABLED=0 to test the cgo-less build on purpose")
}
