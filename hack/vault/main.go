// Command vault is HashiCorp Vault's own main, built from the Go module proxy through this
// module (hack/build-vault.sh): Vault's go.mod replaces its api and sdk modules with local
// directories, so `go install github.com/hashicorp/vault` cannot build it. This module
// pins the published versions that v1.21.0 compiles with (api v1.22.0, sdk v0.20.0; the
// later v1.21.x need an sdk that was never published) and copies Vault's two non-local
// replace directives.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
