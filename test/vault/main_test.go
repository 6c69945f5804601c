// Package vault runs kcsr server's Vault upstream signer against a real Vault server
// (v1.21.0, built from the Go module proxy by hack/build-vault.sh). It is its own package
// so that hack/test.sh can build Vault, which takes minutes, while the other tests run.
package vault

import (
	"os"
	"testing"

	"kcsr.dev/kcsr/test/e2e/framework"
)

func TestMain(m *testing.M) {
	code := m.Run()
	framework.RemoveBinary()
	os.Exit(code)
}
