package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestKubectlPlugin: linked as kubectl-csr on PATH, `kubectl csr …` runs kcsr.
func TestKubectlPlugin(t *testing.T) {
	s := framework.StartServer(t, "")
	bin := t.TempDir()
	if err := os.Symlink(framework.Binary(t), filepath.Join(bin, "kubectl-csr")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	r := framework.Run(t, "", framework.KubectlBinary(), "csr", "--help")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "kubectl csr [command]") {
		t.Errorf("kubectl csr --help: exit %d\n%s", r.ExitCode, r.Combined())
	}
	r = framework.Run(t, "", framework.KubectlBinary(), "csr", "token", "create", "--user", "rahul", "--kubeconfig", s.Kubeconfig)
	if r.ExitCode != 0 || !kcsrv1alpha1.TokenRE.MatchString(strings.TrimSpace(r.Stdout)) {
		t.Errorf("kubectl csr token create: exit %d\n%s", r.ExitCode, r.Combined())
	}
	// The commands its messages suggest are the plugin's (issue 16 item 9).
	out := t.TempDir()
	r = framework.Run(t, "", framework.KubectlBinary(), "csr", "request", "--user", "later", "--no-wait", "--out-dir", out, "--kubeconfig", s.Kubeconfig)
	if r.ExitCode != 0 || !strings.Contains(r.Combined(), "collect the certificate with: kubectl csr fetch later") || strings.Contains(r.Combined(), "kcsr fetch") {
		t.Errorf("kubectl csr request --no-wait: exit %d; want the hint to say kubectl csr fetch\n%s", r.ExitCode, r.Combined())
	}
}
