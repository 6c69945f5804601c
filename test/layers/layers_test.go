// Package layers checks the import rules of docs/architecture.md: the CLI is a client
// and imports no server package, and controllers, which run against any Kubernetes API
// server, import none of kcsr server's internals. The API contract they share (condition
// types and reasons, annotations, token identities, revocation reasons) lives in pkg/apis.
package layers

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "kcsr.dev/kcsr/"

// server is what only kcsr server may import.
var server = []string{"pkg/apiserver", "pkg/registry", "pkg/authn", "pkg/authz", "pkg/admission", "pkg/cmd"}

func TestImportRules(t *testing.T) {
	rules := []struct {
		packages  string
		forbidden []string
	}{
		{"./pkg/cli/...", append([]string{"pkg/controller"}, server...)},
		{"./pkg/controller/...", server},
	}
	for _, r := range rules {
		for pkg, deps := range transitiveImports(t, r.packages) {
			for _, dep := range deps {
				for _, f := range r.forbidden {
					if dep == module+f || strings.HasPrefix(dep, module+f+"/") {
						t.Errorf("%s imports %s (directly or through another package); %s may not import %s/...: move what it needs to pkg/apis or a domain package", pkg, dep, r.packages, f)
					}
				}
			}
		}
	}
}

// transitiveImports lists, for each package matching pattern, every package it imports,
// directly or not.
func transitiveImports(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, pattern)
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 {
			imports[fields[0]] = fields[1:]
		}
	}
	if len(imports) == 0 {
		t.Fatalf("go list %s: no packages", pattern)
	}
	return imports
}
