package e2e

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
