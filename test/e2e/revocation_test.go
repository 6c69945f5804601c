package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestRevocation: issue 7 acceptance (a) at login and (c): a revoked certificate gets
// 401 within a second, on restart too; the revoke permission is enforced; only a
// certificateHold can be lifted.
func TestRevocation(t *testing.T) {
	dir := t.TempDir()
	tokens := framework.WriteFile(t, dir, "tokens.csv", "ops-token,ops,2001,\"ops\"\n")
	s := framework.StartServer(t, "", "--token-auth-file", tokens)
	kc := s.Kubeconfig
	issue := func(name string) (string, string) {
		t.Helper()
		crt := framework.IssueClientCert(t, kc, dir, name, "developers")
		userKC := filepath.Join(dir, name+".kubeconfig")
		for _, args := range [][]string{
			{"config", "set-cluster", "kcsr", "--server", s.URL, "--certificate-authority", filepath.Join(s.DataDir, "pki", "ca.crt"), "--embed-certs"},
			{"config", "set-credentials", name, "--client-certificate", crt, "--client-key", filepath.Join(dir, name+".key"), "--embed-certs"},
			{"config", "set-context", name, "--cluster", "kcsr", "--user", name},
			{"config", "use-context", name},
		} {
			framework.MustKubectl(t, userKC, args...)
		}
		return userKC, parseCert(t, mustRead(t, crt)).SerialNumber.Text(16)
	}
	rahulKC, rahulSerial := issue("rahul")
	otherKC, _ := issue("rahul-laptop")
	for _, k := range []string{rahulKC, otherKC} {
		if r := framework.Kubectl(t, k, "auth", "whoami"); r.ExitCode != 0 {
			t.Fatalf("before revocation: %s", r.Combined())
		}
	}

	// Without the revoke verb, even update on issuedcertificates/status is not enough.
	framework.MustKubectl(t, kc, "create", "clusterrole", "status-writer", "--verb", "get,list,update", "--resource", "issuedcertificates.kcsr.dev,issuedcertificates.kcsr.dev/status")
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "ops-status", "--clusterrole", "status-writer", "--user", "ops")
	r := framework.Run(t, "", framework.Binary(t), "revoke", rahulSerial, "--reason", "keyCompromise", "--server", s.URL, "--token", "ops-token", "--kubeconfig", kc)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `user "ops" is not permitted to revoke issued certificates`) || !strings.Contains(r.Stderr, "which the kcsr:revoker ClusterRole grants") {
		t.Errorf("revoke without the revoke verb (the error names the role that grants it): exit %d\n%s", r.ExitCode, r.Combined())
	}
	// Errors that say what to do: a token the server does not know, a plain-HTTP URL.
	r = framework.Run(t, "", framework.Binary(t), "get", "--server", s.URL, "--token", "no-such-token", "--kubeconfig", kc)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "the server did not accept these credentials: a token may be mistyped") {
		t.Errorf("a bad token: exit %d\n%s", r.ExitCode, r.Combined())
	}
	plain := "http://" + strings.TrimPrefix(s.URL, "https://")
	r = framework.Run(t, "", framework.Binary(t), "get", "--server", plain, "--kubeconfig", kc)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "--server "+plain+" is plain HTTP; the API is served over HTTPS only") {
		t.Errorf("a plain-HTTP URL: exit %d\n%s", r.ExitCode, r.Combined())
	}

	r = framework.Kcsr(t, kc, "revoke", rahulSerial, "--reason", "keyCompromise", "--message", "laptop stolen")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "revoked certificate "+rahulSerial) {
		t.Fatalf("kcsr revoke: %s", r.Combined())
	}
	revokedAt := time.Now()
	framework.Eventually(t, 5*time.Second, "401 for the revoked certificate", func() bool {
		r := framework.Kubectl(t, rahulKC, "get", "csr")
		return r.ExitCode != 0 && strings.Contains(r.Stderr, "Unauthorized")
	})
	if d := time.Since(revokedAt); d > time.Second {
		t.Errorf("the revoked certificate was refused after %s, want within 1s", d)
	}
	if r := framework.Kubectl(t, otherKC, "auth", "whoami"); r.ExitCode != 0 {
		t.Errorf("another certificate of the same user stopped working: %s", r.Combined())
	}
	inv := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.serialNumber="+rahulSerial, "-o", "jsonpath={.items[0].status.revocation.reason}|{.items[0].status.revocation.revokedBy}")
	if inv != "keyCompromise|kcsr-admin" {
		t.Errorf("inventory revocation = %q", inv)
	}
	if out := framework.MustKubectl(t, kc, "get", "issuedcertificates"); !strings.Contains(out, "Revoked:keyCompromise") {
		t.Errorf("kubectl get issuedcertificates does not show the revocation:\n%s", out)
	}
	if r := framework.Kcsr(t, kc, "unrevoke", rahulSerial); r.ExitCode == 0 || !strings.Contains(r.Stderr, "only a certificateHold can be lifted") {
		t.Errorf("unrevoke of keyCompromise: %s", r.Combined())
	}

	// (c) durable: kill -9 and restart.
	s.Kill()
	s.Start()
	if r := framework.Kubectl(t, rahulKC, "get", "csr"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("after restart the revoked certificate works again: %s", r.Combined())
	}

	// certificateHold is lifted by unrevoke.
	if r := framework.Kcsr(t, kc, "revoke", "--csr", "rahul-laptop", "--reason", "certificateHold"); r.ExitCode != 0 {
		t.Fatalf("hold: %s", r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "401 while on hold", func() bool { return framework.Kubectl(t, otherKC, "auth", "whoami").ExitCode != 0 })
	if r := framework.Kcsr(t, kc, "unrevoke", "--csr", "rahul-laptop"); r.ExitCode != 0 {
		t.Fatalf("unrevoke: %s", r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "the certificate to work after the hold is lifted", func() bool { return framework.Kubectl(t, otherKC, "auth", "whoami").ExitCode == 0 })

	// Bad input says what to do.
	if r := framework.Kcsr(t, kc, "revoke", "zz-not-hex"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "not a hexadecimal serial") {
		t.Errorf("bad serial: %s", r.Combined())
	}
	if r := framework.Kcsr(t, kc, "revoke", rahulSerial, "--reason", "stolen"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "keyCompromise") {
		t.Errorf("bad reason: %s", r.Combined())
	}
}

// TestRevokeUser (issue 16 item 5): offboarding revokes every valid certificate of an
// identity, listed first and asked for; --group narrows it to the certificates carrying
// those groups; other users' certificates are untouched.
func TestRevokeUser(t *testing.T) {
	s := framework.StartServer(t, "")
	kc := s.Kubeconfig
	dir := t.TempDir()
	issue := func(csrName, cn string, orgs ...string) string {
		t.Helper()
		req := framework.GoCSR(t, dir, csrName, cn, orgs, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, csrName+".yaml", framework.CSRManifest(csrName, req, clientSigner, 3600, "client auth")))
		framework.MustKubectl(t, kc, "certificate", "approve", csrName)
		return parseCert(t, framework.WaitIssued(t, kc, csrName)).SerialNumber.Text(16)
	}
	laptop := issue("dana-laptop", "dana", "developers")
	ci := issue("dana-ci", "dana", "ci")
	erin := issue("erin", "erin", "developers")
	revocation := func(serial string) string {
		return framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.serialNumber="+serial, "-o", "jsonpath={.items[0].status.revocation.reason}")
	}

	// Listed, asked, and nothing happens without a yes.
	r := framework.Run(t, "no\n", framework.Binary(t), "revoke", "--kubeconfig", kc, "--user", "dana", "--group", "developers")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "nothing revoked") || !strings.Contains(r.Stdout, laptop) || strings.Contains(r.Stdout, ci) ||
		!strings.Contains(r.Stdout, "revoke this certificate (reason unspecified)? [y/N]") {
		t.Errorf("revoke --user dana --group developers, answered no: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if got := revocation(laptop); got != "" {
		t.Errorf("a certificate was revoked without a yes: %s", got)
	}

	r = framework.Run(t, "", framework.Binary(t), "revoke", "--kubeconfig", kc, "--user", "dana", "--reason", "affiliationChanged", "--yes")
	if r.ExitCode != 0 || strings.Count(r.Stdout, "revoked certificate ") != 2 {
		t.Fatalf("revoke --user dana --yes: exit %d\n%s", r.ExitCode, r.Combined())
	}
	for _, serial := range []string{laptop, ci} {
		if got := revocation(serial); got != "affiliationChanged" {
			t.Errorf("dana's certificate %s: revocation %q, want affiliationChanged", serial, got)
		}
	}
	if got := revocation(erin); got != "" {
		t.Errorf("erin's certificate was revoked too: %s", got)
	}
	r = framework.Run(t, "", framework.Binary(t), "revoke", "--kubeconfig", kc, "--user", "dana", "--yes")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "no valid certificate of user dana to revoke") {
		t.Errorf("a second offboarding: exit %d\n%s", r.ExitCode, r.Combined())
	}
	r = framework.Run(t, "", framework.Binary(t), "revoke", "--kubeconfig", kc, "--group", "developers", "--yes")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "give --user too") {
		t.Errorf("--group alone: exit %d\n%s", r.ExitCode, r.Combined())
	}
}
