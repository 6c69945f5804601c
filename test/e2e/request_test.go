package e2e

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// kcsrRequest starts `kcsr request` in the background with the admin kubeconfig, writing
// to out, and waits until its CSR exists.
func kcsrRequest(t *testing.T, s *framework.Server, out, name string, extra ...string) *framework.Process {
	t.Helper()
	args := append([]string{"request", "--kubeconfig", s.Kubeconfig, "--name", name, "--out-dir", out}, extra...)
	p := framework.StartProcess(t, framework.Binary(t), args...)
	framework.Eventually(t, 30*time.Second, "CSR "+name+" to exist", func() bool {
		return framework.Kubectl(t, s.Kubeconfig, "get", "csr", name).ExitCode == 0
	})
	return p
}

// kcsrExit runs the kcsr binary with args and checks its exit code; what names the call
// in errors.
func kcsrExit(t *testing.T, code int, what string, args ...string) framework.Result {
	t.Helper()
	r := framework.Run(t, "", framework.Binary(t), args...)
	wantExit(t, what, r.ExitCode, code, r.Stdout, r.Stderr)
	return r
}

// wantNoFiles checks that a request left nothing in out: no NAME.* and no temporary files.
func wantNoFiles(t *testing.T, out, name string) {
	t.Helper()
	for _, pattern := range []string{name + ".*", "." + name + ".*"} {
		if matches, _ := filepath.Glob(filepath.Join(out, pattern)); len(matches) > 0 {
			t.Errorf("files left behind: %v", matches)
		}
	}
}

func wantExit(t *testing.T, what string, got, want int, stdout, stderr string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, got, want, stdout, stderr)
	}
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(got, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, got)
		}
	}
}

// kubeconfigCert is the client certificate of a kubeconfig's current context.
func kubeconfigCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseCert(t, cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].ClientCertificateData)
}

func wantWhoami(t *testing.T, kubeconfig string, wants ...string) {
	t.Helper()
	wantContains(t, "kubectl --kubeconfig "+filepath.Base(kubeconfig)+" auth whoami", framework.MustKubectl(t, kubeconfig, "auth", "whoami"), wants...)
}

// TestRequest: issue 5 acceptance (a) and (b). One command from nothing to a working
// login with an administrator approving from another process; denied and failed requests
// exit non-zero with the reason; a timeout and an interrupt leave no files.
func TestRequest(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig

	t.Run("approved by an administrator", func(t *testing.T) {
		out := t.TempDir()
		framework.StartApprover(t, kc, "rahul")
		r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--user", "rahul", "--group", "developers", "--out-dir", out)
		wantExit(t, "kcsr request", r.ExitCode, 0, r.Stdout, r.Stderr)
		// Not a terminal: a plain line per state change.
		wantContains(t, "stdout", r.Stdout,
			"created CSR rahul: CN=rahul O=developers, signer kubernetes.io/kube-apiserver-client, ECDSA P-256 key, lifetime 24h0m0s\n",
			"\nPending: waiting for approval",
			"\nApproved: KubectlApprove: This CSR was approved by kubectl certificate approve\n",
			"\nIssued: serial ",
			"wrote "+filepath.Join(out, "rahul.key")+", "+filepath.Join(out, "rahul.crt")+", "+filepath.Join(out, "rahul.kubeconfig")+"\n")
		if strings.Contains(r.Stdout, "\r") {
			t.Errorf("spinner output on a pipe:\n%q", r.Stdout)
		}
		for name, mode := range map[string]os.FileMode{"rahul.key": 0o600, "rahul.crt": 0o644, "rahul.kubeconfig": 0o600} {
			if fi, err := os.Stat(filepath.Join(out, name)); err != nil || fi.Mode().Perm() != mode {
				t.Errorf("%s: %v, mode %v; want %#o", name, err, fi.Mode().Perm(), mode)
			}
		}
		caFile := s.CACertPath()
		wantContains(t, "openssl verify", framework.Openssl(t, out, "verify", "-CAfile", caFile, "rahul.crt"), "rahul.crt: OK")
		wantWhoami(t, filepath.Join(out, "rahul.kubeconfig"), "rahul", "developers")

		// The name is taken now: nothing is overwritten, on the server or on disk.
		r = framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--user", "rahul", "--out-dir", t.TempDir())
		wantExit(t, "a second rahul", r.ExitCode, 1, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, `error: a CSR named "rahul" already exists (requested by kcsr-admin); choose another --name, or delete it: kubectl delete csr rahul`)
	})

	t.Run("denied", func(t *testing.T) {
		out := t.TempDir()
		p := kcsrRequest(t, s, out, "denied", "--user", "mallory")
		framework.MustKubectl(t, kc, "certificate", "deny", "denied")
		wantExit(t, "kcsr request", p.Wait(60*time.Second), 2, p.Stdout(), p.Stderr())
		wantContains(t, "stderr", p.Stderr(), "error: CSR denied was denied: KubectlDeny: This CSR was denied by kubectl certificate deny; no files were written\n")
		wantNoFiles(t, out, "denied")
	})

	t.Run("failed", func(t *testing.T) {
		out := t.TempDir()
		// Refused at once without --force: the signer would refuse it after approval.
		r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--name", "failed", "--user", "rahul", "--usage", "client auth", "--usage", "server auth", "--out-dir", out)
		wantExit(t, "kcsr request of what the signer refuses", r.ExitCode, 1, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, "error: signer kubernetes.io/kube-apiserver-client would refuse this request after approval (invalid usage for client certificate: server auth); change the request, or give --force to submit it anyway\n")
		if framework.Kubectl(t, kc, "get", "csr", "failed").ExitCode == 0 {
			t.Fatalf("the refused request was submitted")
		}
		p := kcsrRequest(t, s, out, "failed", "--user", "rahul", "--usage", "client auth", "--usage", "server auth", "--force")
		framework.MustKubectl(t, kc, "certificate", "approve", "failed")
		wantExit(t, "kcsr request", p.Wait(60*time.Second), 3, p.Stdout(), p.Stderr())
		wantContains(t, "stderr", p.Stderr(),
			"warning: signer kubernetes.io/kube-apiserver-client will refuse this request after approval (invalid usage for client certificate: server auth); submitting it anyway\n",
			"error: CSR failed failed: SignerValidationFailure: invalid usage for client certificate: server auth; a Failed CSR is never retried")
		wantContains(t, "stdout", p.Stdout(), "Approved: KubectlApprove")
		wantNoFiles(t, out, "failed")
	})

	t.Run("timeout keeps the CSR and the key for kcsr fetch", func(t *testing.T) {
		out := t.TempDir()
		r := kcsrExit(t, 4, "kcsr request --wait 2s", "request", "--kubeconfig", kc, "--user", "slow", "--wait", "2s", "--out-dir", out)
		wantContains(t, "stderr", r.Stderr, "error: timed out after 2s while CSR slow was Pending; CSR slow stays and its key is in "+filepath.Join(out, "slow")+".key; collect the certificate once it is issued: kcsr fetch slow --out-dir "+out+"\n")
		if fi, err := os.Stat(filepath.Join(out, "slow.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("slow.key: %v; want it kept, mode 0600", err)
		}
		// The approver comes back later; kcsr fetch collects the certificate.
		framework.MustKubectl(t, kc, "certificate", "approve", "slow")
		r = kcsrExit(t, 0, "kcsr fetch slow", "fetch", "slow", "--kubeconfig", kc, "--out-dir", out)
		wantContains(t, "stdout", r.Stdout, "wrote "+filepath.Join(out, "slow")+".crt, "+filepath.Join(out, "slow")+".kubeconfig\n")
		wantWhoami(t, filepath.Join(out, "slow.kubeconfig"), "slow")
		// Nothing is overwritten: a second fetch refuses.
		r = kcsrExit(t, 1, "a second kcsr fetch", "fetch", "slow", "--kubeconfig", kc, "--out-dir", out)
		wantContains(t, "stderr", r.Stderr, "slow.crt already exists")
	})

	t.Run("timeout with --cleanup leaves nothing", func(t *testing.T) {
		out := t.TempDir()
		r := kcsrExit(t, 4, "kcsr request --wait 2s --cleanup", "request", "--kubeconfig", kc, "--user", "tidy", "--wait", "2s", "--cleanup", "--out-dir", out)
		wantContains(t, "stderr", r.Stderr, "error: timed out after 2s while CSR tidy was Pending; no files were written; deleted CSR tidy, whose key was not kept\n")
		wantNoFiles(t, out, "tidy")
		if framework.Kubectl(t, kc, "get", "csr", "tidy").ExitCode == 0 {
			t.Errorf("the CSR of a key that was never kept is still there")
		}
	})

	t.Run("approval that comes later: --no-wait, then kcsr fetch", func(t *testing.T) {
		out := t.TempDir()
		r := kcsrExit(t, 0, "kcsr request --no-wait", "request", "--kubeconfig", kc, "--user", "later", "--group", "developers", "--no-wait", "--out-dir", out)
		wantContains(t, "stdout", r.Stdout,
			"you may approve it yourself: kcsr approve later (or request with --approve)\n",
			"submitted CSR later; once it is approved and issued, collect the certificate with: kcsr fetch later --out-dir "+out+"\n")
		if entries, _ := os.ReadDir(out); len(entries) != 1 || entries[0].Name() != "later.key" {
			t.Fatalf("files after --no-wait: %v; want later.key only", entries)
		}
		if got := condition(t, kc, "later"); got != "Pending" {
			t.Fatalf("CSR later is %s, want Pending", got)
		}
		// A key that is not the CSR's is refused.
		otherKey := filepath.Join(t.TempDir(), "other.key")
		framework.Openssl(t, out, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey)
		r = kcsrExit(t, 1, "kcsr fetch with another key", "fetch", "later", "--kubeconfig", kc, "--out-dir", out, "--key", otherKey, "--wait", "5s")
		wantContains(t, "stderr", r.Stderr, "error: CSR later requests a certificate for another key than the one given")
		// fetch waits for the approval when it has not come yet.
		p := framework.StartProcess(t, framework.Binary(t), "fetch", "later", "--kubeconfig", kc, "--out-dir", out)
		framework.Eventually(t, 20*time.Second, "fetch to wait", func() bool { return strings.Contains(p.Stdout(), "Pending") })
		framework.MustKubectl(t, kc, "certificate", "approve", "later")
		wantExit(t, "kcsr fetch later", p.Wait(60*time.Second), 0, p.Stdout(), p.Stderr())
		wantWhoami(t, filepath.Join(out, "later.kubeconfig"), "later", "developers")
		r = kcsrExit(t, 3, "kcsr fetch of a CSR that does not exist", "fetch", "nosuch", "--kubeconfig", kc, "--out-dir", out, "--key", filepath.Join(out, "later.key"))
		wantContains(t, "stderr", r.Stderr, "error: CSR nosuch does not exist")
	})

	t.Run("--approve: approved in the same step by a requester who may", func(t *testing.T) {
		out := t.TempDir()
		r := kcsrExit(t, 0, "kcsr request --approve", "request", "--kubeconfig", kc, "--user", "selfie", "--approve", "--wait", "30s", "--out-dir", out)
		wantContains(t, "stdout", r.Stdout, "\nApproved: KcsrApprove: This CSR was approved by its requester with kcsr request --approve\n")
		wantWhoami(t, filepath.Join(out, "selfie.kubeconfig"), "selfie")
	})

	t.Run("interrupted", func(t *testing.T) {
		out := t.TempDir()
		p := kcsrRequest(t, s, out, "interrupted", "--user", "impatient")
		p.Signal(syscall.SIGINT)
		wantExit(t, "kcsr request after SIGINT", p.Wait(30*time.Second), 4, p.Stdout(), p.Stderr())
		wantContains(t, "stderr", p.Stderr(), "error: interrupted while CSR interrupted was Pending; CSR interrupted stays and its key is in "+filepath.Join(out, "interrupted")+".key; collect the certificate once it is issued: kcsr fetch interrupted --out-dir "+out)
	})

	t.Run("interrupted while approved, with a kept key", func(t *testing.T) {
		out := t.TempDir()
		keyFile := filepath.Join(out, "mine.key")
		framework.Openssl(t, out, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyFile)
		if err := os.Chmod(keyFile, 0o600); err != nil {
			t.Fatal(err)
		}
		before := mustRead(t, keyFile)
		p := kcsrRequest(t, s, out, "kept", "--user", "kept", "--key", keyFile, "--signer", "example.com/unserved", "--usage", "client auth")
		framework.MustKubectl(t, kc, "certificate", "approve", "kept")
		framework.Eventually(t, 20*time.Second, "the approval to be shown", func() bool { return strings.Contains(p.Stdout(), "Approved:") })
		p.Signal(syscall.SIGINT)
		wantExit(t, "kcsr request after SIGINT", p.Wait(30*time.Second), 4, p.Stdout(), p.Stderr())
		wantContains(t, "stderr", p.Stderr(), "error: interrupted while CSR kept was Approved; CSR kept stays; collect the certificate once it is issued: kcsr fetch kept --key "+keyFile+" --out-dir "+out)
		wantNoFiles(t, out, "kept")
		if framework.Kubectl(t, kc, "get", "csr", "kept").ExitCode != 0 {
			t.Errorf("the CSR of a kept key was deleted")
		}
		if string(mustRead(t, keyFile)) != string(before) {
			t.Errorf("--key was rewritten")
		}
	})

	t.Run("bad input changes nothing", func(t *testing.T) {
		out := t.TempDir()
		r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--user", "bad", "--key-type", "rsa-1024", "--ip-address", "10.0.0.300", "--duration", "5m", "--out-dir", out)
		wantExit(t, "kcsr request with bad flags", r.ExitCode, 1, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, `error: --ip-address "10.0.0.300" is not an IP address; --duration 5m0s is below the API's minimum of 10m; --key-type "rsa-1024" is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519`+"\n")
		if lines := strings.Count(r.Stderr, "\n"); lines != 1 {
			t.Errorf("stderr has %d lines, want one:\n%s", lines, r.Stderr)
		}
		r = framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--group", "developers", "--out-dir", out)
		wantExit(t, "kcsr request without --user", r.ExitCode, 1, r.Stdout, r.Stderr)
		wantContains(t, "stderr", r.Stderr, "error: --user is required: the CN, the user name the certificate logs in as\n")
		if framework.Kubectl(t, kc, "get", "csr", "bad").ExitCode == 0 {
			t.Errorf("a CSR was created despite bad flags")
		}
		if entries, _ := os.ReadDir(out); len(entries) > 0 {
			t.Errorf("files written despite bad flags: %v", entries)
		}
	})
}

// TestRequestWithJoinToken: --server, --certificate-authority and --token, no kubeconfig:
// the join token's holder gets a certificate approved by the token, and logs in with it.
func TestRequestWithJoinToken(t *testing.T) {
	s := framework.StartServer(t, "")
	r := framework.Run(t, "", framework.Binary(t), "token", "create", "--kubeconfig", s.Kubeconfig, "--user", "joe", "--group", "developers")
	wantExit(t, "kcsr token create", r.ExitCode, 0, r.Stdout, r.Stderr)
	token := strings.TrimSpace(r.Stdout)
	out := t.TempDir()
	r = framework.Run(t, "", framework.Binary(t), "request", "--server", s.URL, "--certificate-authority", s.CACertPath(), "--token", token,
		"--user", "joe", "--group", "developers", "--out-dir", out)
	wantExit(t, "kcsr request with a join token", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "stdout", r.Stdout, "Approved: JoinToken")
	wantWhoami(t, filepath.Join(out, "joe.kubeconfig"), "joe", "developers")
}

// TestRequestAsKubectlPlugin: `kubectl csr request …` with the binary linked as
// kubectl-csr.
func TestRequestAsKubectlPlugin(t *testing.T) {
	s := framework.StartServer(t, "")
	bin := t.TempDir()
	if err := os.Symlink(framework.Binary(t), filepath.Join(bin, "kubectl-csr")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	r := framework.Run(t, "", framework.KubectlBinary(), "csr", "request", "--help")
	wantExit(t, "kubectl csr request --help", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantContains(t, "kubectl csr request --help", r.Stdout, "kubectl csr request --user CN", "Examples:", "Exit codes:")
	out := t.TempDir()
	framework.StartApprover(t, s.Kubeconfig, "plugin")
	r = framework.Run(t, "", framework.KubectlBinary(), "csr", "request", "--kubeconfig", s.Kubeconfig, "--user", "plugin", "--key-type", "ed25519", "--out-dir", out)
	wantExit(t, "kubectl csr request", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantWhoami(t, filepath.Join(out, "plugin.kubeconfig"), "plugin")
}

// TestRenew: issue 5 acceptance (d). A 10-minute certificate is replaced, authenticated by
// itself, and the kubeconfig keeps working; then --watch renews twice in a row, with the
// renewal window moved to the start of the lifetime (the hidden --renew-window, for tests).
func TestRenew(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	out := t.TempDir()
	userKC := filepath.Join(out, "rahul.kubeconfig")
	framework.StartApprover(t, kc, "rahul")
	r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kc, "--user", "rahul", "--group", "developers", "--duration", "10m", "--out-dir", out)
	wantExit(t, "kcsr request --duration 10m", r.ExitCode, 0, r.Stdout, r.Stderr)
	first := kubeconfigCert(t, userKC)

	// Without permission to create CSRs, the renewal says what to ask for.
	r = framework.Run(t, "", framework.Binary(t), "renew", "--kubeconfig", userKC)
	wantExit(t, "kcsr renew without RBAC", r.ExitCode, 5, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, "kubectl create clusterrolebinding rahul-self-renewal --clusterrole kcsr:self-renewal --user rahul")
	// The least privilege (issue 16 item 6): CSRs for rahul only, and rahul's only to read.
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "rahul-self-renewal", "--clusterrole", "kcsr:self-renewal", "--user", "rahul")
	other := framework.GoCSR(t, out, "someone-else", "someone-else", nil, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, out, "someone-else.yaml", framework.CSRManifest("someone-else", other, clientSigner, 3600, "client auth")))
	// The CSR named rahul was created by the administrator: not rahul's either.
	if got := framework.MustKubectl(t, userKC, "get", "csr", "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("rahul lists the CSRs: %q; want none (he created none yet)", got)
	}
	if r := framework.Kubectl(t, userKC, "get", "csr", "someone-else"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "NotFound") {
		t.Errorf("rahul reads someone else's CSR: exit %d\n%s", r.ExitCode, r.Combined())
	}
	bob := framework.GoCSR(t, out, "as-bob", "bob", []string{"developers"}, nil, nil)
	r = framework.Kubectl(t, userKC, "create", "-f", framework.WriteFile(t, out, "as-bob.yaml", framework.CSRManifest("as-bob", bob, clientSigner, 3600, "client auth")))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `you may create CSRs only for yourself`) || !strings.Contains(r.Stderr, `the CN must be your user name "rahul" (it is "bob")`) {
		t.Errorf("rahul asks for bob's certificate: exit %d\n%s", r.ExitCode, r.Combined())
	}

	r = framework.Run(t, "", framework.Binary(t), "renew", "--kubeconfig", userKC)
	wantExit(t, "kcsr renew", r.ExitCode, 0, r.Stdout, r.Stderr)
	second := kubeconfigCert(t, userKC)
	wantContains(t, "stdout", r.Stdout, "created CSR rahul-renew-", "lifetime 10m0s",
		"renewed "+userKC+": serial "+first.SerialNumber.Text(16)+" replaced by "+second.SerialNumber.Text(16))
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || second.NotAfter.Before(first.NotAfter) {
		t.Errorf("renewed certificate: serial %x until %s; was %x until %s", second.SerialNumber, second.NotAfter, first.SerialNumber, first.NotAfter)
	}
	if k, ok := second.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || k.Equal(first.PublicKey) {
		t.Errorf("the renewal kept the key; want a new one by default")
	}
	if life := second.NotAfter.Sub(second.NotBefore); life != first.NotAfter.Sub(first.NotBefore) {
		t.Errorf("renewed lifetime %s, want the same as before", life)
	}
	if fi, err := os.Stat(userKC); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig after renewal: %v %v, want mode 0600", fi.Mode(), err)
	}
	wantWhoami(t, userKC, "rahul", "developers")
	if got := strings.Fields(framework.MustKubectl(t, userKC, "get", "csr", "-o", "name")); len(got) != 1 || !strings.HasPrefix(got[0], "certificatesigningrequest.certificates.k8s.io/rahul-renew-") {
		t.Errorf("rahul lists the CSRs: %q; want his renewal only", got)
	}

	// --watch: two renewals in a row, then SIGINT stops it cleanly.
	p := framework.StartProcess(t, framework.Binary(t), "renew", "--kubeconfig", userKC, "--watch", "--renew-window", "0,0.001")
	framework.Eventually(t, 60*time.Second, "two renewals by --watch", func() bool { return strings.Count(p.Stdout(), "renewed "+userKC) >= 2 })
	p.Signal(syscall.SIGINT)
	wantExit(t, "kcsr renew --watch after SIGINT", p.Wait(30*time.Second), 0, p.Stdout(), p.Stderr())
	wantContains(t, "stdout", p.Stdout(), "stopped watching "+userKC)
	third := kubeconfigCert(t, userKC)
	if third.SerialNumber.Cmp(second.SerialNumber) == 0 {
		t.Errorf("--watch did not replace the certificate")
	}
	wantWhoami(t, userKC, "rahul", "developers")
}

// TestKubeconfig: `kcsr kubeconfig` assembles a working kubeconfig from a key, its
// certificate and the server and CA of another kubeconfig, and refuses a key that does not
// match.
func TestKubeconfig(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	certPath, keyPath := s.ClientCert(t, dir, "alice", "/CN=alice/O=dev")
	r := framework.Run(t, "", framework.Binary(t), "kubeconfig", "--kubeconfig", s.Kubeconfig, "--key", keyPath, "--cert", certPath)
	wantExit(t, "kcsr kubeconfig", r.ExitCode, 0, r.Stdout, r.Stderr)
	assembled := filepath.Join(dir, "alice.kubeconfig")
	wantContains(t, "stdout", r.Stdout, "wrote "+assembled+": user alice (CN=alice O=dev), server "+s.URL)
	if fi, err := os.Stat(assembled); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, mode %v; want 0600", assembled, err, fi.Mode())
	}
	wantWhoami(t, assembled, "alice", "dev")

	// From files only: --ca and --server.
	r = framework.Run(t, "", framework.Binary(t), "kubeconfig", "--ca", s.CACertPath(), "--server", s.URL, "--key", keyPath, "--cert", certPath, "--out", filepath.Join(dir, "files.kubeconfig"))
	wantExit(t, "kcsr kubeconfig --ca --server", r.ExitCode, 0, r.Stdout, r.Stderr)
	wantWhoami(t, filepath.Join(dir, "files.kubeconfig"), "alice", "dev")

	_, otherKey := s.ClientCert(t, dir, "bob", "/CN=bob")
	r = framework.Run(t, "", framework.Binary(t), "kubeconfig", "--kubeconfig", s.Kubeconfig, "--key", otherKey, "--cert", certPath, "--out", filepath.Join(dir, "mismatch.kubeconfig"))
	wantExit(t, "kcsr kubeconfig with another key", r.ExitCode, 1, r.Stdout, r.Stderr)
	wantContains(t, "stderr", r.Stderr, "error: --key "+otherKey+" does not match --cert "+certPath+": the certificate is for another key; use the key the certificate was requested with\n")
	if _, err := os.Stat(filepath.Join(dir, "mismatch.kubeconfig")); err == nil {
		t.Errorf("a kubeconfig was written for a mismatched key")
	}
}
