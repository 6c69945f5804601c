package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestCLIDocRuns (issue 16, done when): every command of docs/cli.md's examples is run, as
// written, against a real server, in the order a reader meets them, and checked for what
// the text around it promises. A shell runs each line in a working directory holding
// admin.kubeconfig (also $KUBECONFIG) and ca.crt, with kcsr and kubectl on $PATH; the
// only substitutions are the server's URL for https://kcsr.example:6443 and a directory
// of the test for /usr/local/bin. A line of the document without a step here, or a step
// whose line the document no longer has, fails the test: a documented command that
// changes must be run again. Where the document leaves the approval to "an
// administrator", the test approves in the background, as one would.
func TestCLIDocRuns(t *testing.T) {
	doc := mustRead(t, "../../docs/cli.md")
	var lines []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1) {
		for _, l := range commandLines(m[1]) {
			lines = append(lines, strings.Join(strings.Fields(l), " ")) // continuation lines leave two spaces
		}
	}

	dir := t.TempDir()
	framework.Openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ci-ca.key")
	framework.Openssl(t, dir, "req", "-x509", "-new", "-key", "ci-ca.key", "-subj", "/CN=ci-ca", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ci-ca.crt")
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: example.com/ci
  ca: {certFile: %s, keyFile: %s}
  rules:
    allowedUsages: [digital signature, client auth]
`, filepath.Join(dir, "ci-ca.crt"), filepath.Join(dir, "ci-ca.key")))
	s := framework.StartServer(t, "", "--signer-config", config)
	admin := s.Kubeconfig

	// The reader's shell.
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(framework.Binary(t), filepath.Join(bin, "kcsr")); err != nil {
		t.Fatal(err)
	}
	kubectl, err := exec.LookPath(framework.KubectlBinary())
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+bin+":"+filepath.Dir(kubectl)+":"+os.Getenv("PATH"), "HOME="+dir)
	workdir := func(name string) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, from := range map[string]string{"admin.kubeconfig": admin, "ca.crt": s.CACertPath()} {
			if err := os.WriteFile(filepath.Join(d, file), mustRead(t, from), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	shell := func(t *testing.T, d, line string) framework.Result {
		t.Helper()
		line = strings.ReplaceAll(line, "https://kcsr.example:6443", s.URL)
		line = strings.ReplaceAll(line, "/usr/local/bin", bin)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", line)
		cmd.Dir, cmd.Env = d, append(env, "KUBECONFIG="+filepath.Join(d, "admin.kubeconfig"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := framework.Result{Stdout: stdout.String(), Stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.ExitCode = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return r
	}
	must := func(t *testing.T, d, line string, wants ...string) framework.Result {
		t.Helper()
		r := shell(t, d, line)
		wantExit(t, line, r.ExitCode, 0, r.Stdout, r.Stderr)
		wantContains(t, line, r.Combined(), wants...)
		return r
	}
	// approving approves every pending CSR in the background while f runs: the
	// administrator of the walkthrough.
	approving := func(t *testing.T, f func()) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				exec.CommandContext(ctx, framework.Binary(t), "approve", "--all", "--yes", "--kubeconfig", admin).Run()
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
		}()
		defer func() { cancel(); wg.Wait() }()
		f()
	}
	forget := func(t *testing.T, csrs ...string) {
		t.Helper()
		framework.MustKubectl(t, admin, append([]string{"delete", "csr", "--ignore-not-found"}, csrs...)...)
	}

	// withRahulsKey is a new working directory with the key and certificate fetched
	// earlier, and no kubeconfig of rahul's yet.
	withRahulsKey := func(t *testing.T, name string) string {
		t.Helper()
		d := workdir(name)
		for _, f := range []string{"rahul.key", "rahul.crt"} {
			if err := os.WriteFile(filepath.Join(d, f), mustRead(t, filepath.Join(dir, "later", f)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	var joinCommand string
	steps := []struct {
		line string
		run  func(t *testing.T, line string)
	}{
		{"kcsr token create --user rahul --group developers --ttl 24h --print-join-command", func(t *testing.T, line string) {
			r := must(t, workdir("token"), line, "kcsr join "+s.URL+" --token ", "--ca-hash sha256:", "--user rahul --group developers")
			joinCommand = strings.TrimSpace(r.Stdout)
		}},
		// The document shows the printed command with placeholders: run the one printed.
		{"kcsr join https://kcsr.example:6443 --token abcdef.0123456789abcdef --ca-hash sha256:7413fa76…16795 --user rahul --group developers", func(t *testing.T, line string) {
			d := workdir("join")
			must(t, d, joinCommand)
			kubeconfigs, _ := filepath.Glob(filepath.Join(d, "rahul*.kubeconfig"))
			if len(kubeconfigs) != 1 {
				t.Fatalf("join wrote %v; want one kubeconfig", kubeconfigs)
			}
			wantWhoami(t, kubeconfigs[0], "rahul", "developers")
		}},
		{`ln -s "$(command -v kcsr)" /usr/local/bin/kubectl-csr`, func(t *testing.T, line string) {
			must(t, workdir("plugin"), line)
		}},
		{"kubectl csr request --user rahul --group developers", func(t *testing.T, line string) {
			forget(t, "rahul")
			d := workdir("plugin")
			approving(t, func() { must(t, d, line) })
			wantWhoami(t, filepath.Join(d, "rahul.kubeconfig"), "rahul", "developers")
		}},
		{"kcsr request --kubeconfig admin.kubeconfig --user rahul --group developers", func(t *testing.T, line string) {
			forget(t, "rahul")
			approving(t, func() { must(t, workdir("request"), line) })
		}},
		{"kubectl --kubeconfig rahul.kubeconfig auth whoami", func(t *testing.T, line string) {
			must(t, workdir("request"), line, "rahul", "developers")
		}},
		{"kcsr request --user rahul --group developers --no-wait", func(t *testing.T, line string) {
			forget(t, "rahul")
			d := workdir("later")
			must(t, d, line, "kcsr fetch rahul")
			if st, err := os.Stat(filepath.Join(d, "rahul.key")); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("rahul.key after --no-wait: %v, %v; want a 0600 file", st, err)
			}
		}},
		{"kcsr fetch rahul", func(t *testing.T, line string) {
			d := workdir("later")
			approving(t, func() { must(t, d, line) })
			wantWhoami(t, filepath.Join(d, "rahul.kubeconfig"), "rahul", "developers")
		}},
		{"kcsr renew --kubeconfig rahul.kubeconfig", func(t *testing.T, line string) {
			framework.MustKubectl(t, admin, "create", "clusterrolebinding", "rahul-renews", "--clusterrole", "kcsr:self-renewal", "--user", "rahul")
			d := workdir("later")
			before := mustRead(t, filepath.Join(d, "rahul.kubeconfig"))
			approving(t, func() { must(t, d, line) })
			if bytes.Equal(before, mustRead(t, filepath.Join(d, "rahul.kubeconfig"))) {
				t.Errorf("renew left rahul.kubeconfig as it was")
			}
			wantWhoami(t, filepath.Join(d, "rahul.kubeconfig"), "rahul", "developers")
		}},
		{"kcsr renew --kubeconfig rahul.kubeconfig --watch", func(t *testing.T, line string) {
			// It runs for as long as it is left to: still running, and quiet about errors, after a few seconds.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-c", "exec "+line)
			cmd.Dir, cmd.Env = workdir("later"), env
			out, _ := cmd.CombinedOutput()
			if ctx.Err() == nil {
				t.Errorf("%s ended by itself: %s", line, out)
			}
			if strings.Contains(string(out), "error") {
				t.Errorf("%s: %s", line, out)
			}
		}},
		{"kcsr kubeconfig --key rahul.key --cert rahul.crt --kubeconfig admin.kubeconfig", func(t *testing.T, line string) {
			d := withRahulsKey(t, "kubeconfig-from-admin")
			must(t, d, line)
			wantWhoami(t, filepath.Join(d, "rahul.kubeconfig"), "rahul", "developers")
		}},
		{"kcsr kubeconfig --key rahul.key --cert rahul.crt --ca ca.crt --server https://kcsr.example:6443 --out rahul.kubeconfig", func(t *testing.T, line string) {
			d := withRahulsKey(t, "kubeconfig-from-flags")
			must(t, d, line)
			wantWhoami(t, filepath.Join(d, "rahul.kubeconfig"), "rahul", "developers")
		}},
		{"kcsr version", func(t *testing.T, line string) {
			must(t, workdir("version"), line, "Client Version: v", "Server Version: v")
		}},
		{"kcsr version --client", func(t *testing.T, line string) {
			if r := must(t, workdir("version"), line, "Client Version: v"); strings.Contains(r.Stdout, "Server Version") {
				t.Errorf("%s contacted the server: %s", line, r.Stdout)
			}
		}},
		{`kubectl get leases -n kube-system -l kcsr.dev/signers-announcement -o custom-columns='HOLDER:.spec.holderIdentity,SIGNERS:.metadata.annotations.kcsr\.dev/signers'`, func(t *testing.T, line string) {
			must(t, workdir("leases"), line, "HOLDER", "example.com/ci", "kubernetes.io/kube-apiserver-client")
		}},
		{`kcsr approve rahul --message "checked with rahul's manager"`, func(t *testing.T, line string) {
			forget(t, "rahul")
			d := workdir("approve")
			must(t, d, "kcsr request --user rahul --group developers --no-wait")
			must(t, d, line, "rahul: CN=rahul O=developers", "certificatesigningrequest.certificates.k8s.io/rahul approved")
			if got := framework.MustKubectl(t, admin, "get", "csr", "rahul", "-o", `jsonpath={.status.conditions[?(@.type=="Approved")].message}`); got != "checked with rahul's manager" {
				t.Errorf("the approval's message: %q", got)
			}
		}},
		{"kcsr approve --all --requester system:serviceaccount:ci:builder --signer example.com/ci --dry-run", func(t *testing.T, line string) {
			framework.MustKubectl(t, admin, "create", "clusterrolebinding", "ci-builder-csrs", "--clusterrole", "system:node-bootstrapper", "--user", "system:serviceaccount:ci:builder")
			for _, name := range []string{"build-1", "build-2"} {
				req := framework.GoCSR(t, dir, name, name, nil, nil, nil)
				framework.MustKubectl(t, admin, "create", "--as", "system:serviceaccount:ci:builder", "--as-group", "system:authenticated", "-f",
					framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, "example.com/ci", 3600, "client auth")))
			}
			must(t, workdir("ci"), line, "build-1 approved (dry run)", "build-2 approved (dry run)")
		}},
		{"kcsr approve --all --requester system:serviceaccount:ci:builder --signer example.com/ci", func(t *testing.T, line string) {
			must(t, workdir("ci"), line, "certificatesigningrequest.certificates.k8s.io/build-1 approved", "certificatesigningrequest.certificates.k8s.io/build-2 approved")
			framework.Eventually(t, 30*time.Second, "build-1's certificate from example.com/ci", func() bool {
				return framework.MustKubectl(t, admin, "get", "csr", "build-1", "-o", "jsonpath={.status.certificate}") != ""
			})
		}},
		{"kcsr deny --all -l team=sandbox", func(t *testing.T, line string) {
			req := framework.GoCSR(t, dir, "sandbox", "sandbox", nil, nil, nil)
			framework.MustKubectl(t, admin, "create", "-f", framework.WriteFile(t, dir, "sandbox.yaml", framework.CSRManifest("sandbox", req, "example.com/ci", 3600, "client auth")))
			framework.MustKubectl(t, admin, "label", "csr", "sandbox", "team=sandbox")
			must(t, workdir("deny"), line, "certificatesigningrequest.certificates.k8s.io/sandbox denied")
		}},
	}

	documented := map[string]bool{}
	for _, l := range lines {
		documented[l] = true
	}
	covered := map[string]bool{}
	for _, st := range steps {
		covered[st.line] = true
		if !documented[st.line] {
			t.Errorf("docs/cli.md no longer shows %q: update this step", st.line)
		}
	}
	for _, l := range lines {
		if !covered[l] {
			t.Errorf("docs/cli.md shows %q, which no step of this test runs", l)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, st := range steps {
		if !t.Run(st.line, func(t *testing.T) { st.run(t, st.line) }) {
			t.FailNow() // the next lines build on this one
		}
	}
}
