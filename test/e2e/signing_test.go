package e2e

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestSeedWalkthroughIssued: the seed's walkthrough to the end: extract the certificate,
// verify it with openssl, log in with it.
func TestSeedWalkthroughIssued(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	framework.SeedWalkthrough(t, kc, dir)
	if got := condition(t, kc, "myuser"); got != "Approved,Issued" {
		t.Errorf("condition = %q, want Approved,Issued", got)
	}

	// kubectl get csr myuser -o jsonpath='{.status.certificate}' | base64 -d > user.crt
	b64 := framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", "jsonpath={.status.certificate}")
	certPEM, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("status.certificate is not base64: %v", err)
	}
	crt := framework.WriteFile(t, dir, "user.crt", string(certPEM))
	caFile := filepath.Join(s.DataDir, "pki", "ca.crt")
	if out := framework.Openssl(t, dir, "verify", "-CAfile", caFile, crt); !strings.Contains(out, "user.crt: OK") {
		t.Errorf("openssl verify: %s", out)
	}
	cert := parseCert(t, certPEM)
	if cert.Subject.CommonName != "myuser" || strings.Join(cert.Subject.Organization, ",") != "dev-team" {
		t.Errorf("subject = %s, want CN=myuser, O=dev-team", cert.Subject)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU = %v, want clientAuth only", cert.ExtKeyUsage)
	}
	if cert.IsCA {
		t.Errorf("issued certificate is a CA")
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life < 24*time.Hour-5*time.Minute || life > 24*time.Hour+5*time.Minute {
		t.Errorf("lifetime = %s, want 24h ± 5m", life)
	}
	if len(cert.SubjectKeyId) == 0 || len(cert.AuthorityKeyId) == 0 {
		t.Errorf("SKI/AKI missing: %x / %x", cert.SubjectKeyId, cert.AuthorityKeyId)
	}

	// A kubeconfig made by hand from user.key + user.crt + the CA logs in as myuser.
	userKC := filepath.Join(dir, "user.kubeconfig")
	for _, args := range [][]string{
		{"config", "set-cluster", "kcsr", "--server", s.URL, "--certificate-authority", caFile, "--embed-certs"},
		{"config", "set-credentials", "myuser", "--client-certificate", crt, "--client-key", filepath.Join(dir, "user.key"), "--embed-certs"},
		{"config", "set-context", "myuser", "--cluster", "kcsr", "--user", "myuser"},
		{"config", "use-context", "myuser"},
	} {
		framework.MustKubectl(t, userKC, args...)
	}
	who := framework.MustKubectl(t, userKC, "auth", "whoami")
	if !strings.Contains(who, "myuser") || !strings.Contains(who, "dev-team") {
		t.Errorf("kubectl auth whoami:\n%s\nwant myuser / dev-team", who)
	}

	// The inventory has the certificate, with the CSR's name and the requester.
	inv := framework.MustKubectl(t, kc, "get", "issuedcertificates", "-o", "wide")
	serial := cert.SerialNumber.Text(16)
	for _, want := range []string{serial, "myuser", "dev-team", clientSigner, "Valid", "kcsr-admin"} {
		if !strings.Contains(inv, want) {
			t.Errorf("kubectl get issuedcertificates lacks %q:\n%s", want, inv)
		}
	}
	bySerial := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.serialNumber="+serial, "-o", "jsonpath={.items[*].spec.csrName}")
	if bySerial != "myuser" {
		t.Errorf("inventory by serial: csrName %q, want myuser", bySerial)
	}
	// The metrics show the walkthrough, and nothing of server-side dry runs: a CSR created
	// with --dry-run=server, and a pending one approved or denied so, are not counted.
	request := framework.OpensslCSR(t, dir, "pending", "/CN=myuser/O=dev-team")
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "pending.yaml", framework.CSRManifest("pending", request, clientSigner, 86400, "client auth")))
	framework.MustKubectl(t, kc, "create", "--dry-run=server", "-f", framework.WriteFile(t, dir, "dry.yaml", framework.CSRManifest("dry-run", request, clientSigner, 86400, "client auth")))
	for _, condition := range []string{"Approved", "Denied"} {
		patch := `[{"op":"add","path":"/status/conditions","value":[{"type":"` + condition + `","status":"True","reason":"DryRun"}]}]`
		framework.MustKubectl(t, kc, "patch", "csr", "pending", "--subresource=approval", "--type=json", "--dry-run=server", "-p", patch)
	}
	metrics := framework.MustKubectl(t, kc, "get", "--raw", "/metrics")
	for event, n := range map[string]string{"created": "2", "approved": "1", "issued": "1"} {
		if want := `kcsr_csr_total{event="` + event + `",signer_name="kubernetes.io/kube-apiserver-client"} ` + n; !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if unwanted := `kcsr_csr_total{event="denied"`; strings.Contains(metrics, unwanted) {
		t.Errorf("/metrics counts a dry-run denial: %s", unwanted)
	}
	if !strings.Contains(metrics, "kcsr_csr_time_to_issue_seconds_bucket") {
		t.Errorf("/metrics lacks the time-to-issue histogram")
	}

	// The inventory outlives the CSR.
	framework.MustKubectl(t, kc, "delete", "csr", "myuser")
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName=myuser", "-o", "name"); strings.TrimSpace(got) == "" {
		t.Errorf("inventory record gone with its CSR")
	}
}

// TestBuiltInSignerRules: each built-in signer's rule of reference §3, a passing and a
// Failed case, plus the never-silent unserved signer.
func TestBuiltInSignerRules(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	node := func(name string, orgs, dns []string) string {
		return framework.GoCSR(t, dir, name, "system:node:"+name, orgs, dns, nil)
	}
	cases := []struct {
		name, request, signer string
		usages                []string
		wantFailed            string // "" means issued
	}{
		{"client-ok", framework.GoCSR(t, dir, "client-ok", "alice", []string{"dev"}, nil, nil), clientSigner, []string{"digital signature", "client auth"}, ""},
		{"client-server-auth", framework.GoCSR(t, dir, "client-server-auth", "alice", nil, nil, nil), clientSigner, []string{"client auth", "server auth"}, "invalid usage for client certificate: server auth"},
		{"client-no-client-auth", framework.GoCSR(t, dir, "client-no-client-auth", "alice", nil, nil, nil), clientSigner, []string{"digital signature"}, "missing required usage for client certificate: client auth"},
		{"kubelet-ok", node("kubelet-ok", []string{"system:nodes"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}, ""},
		{"kubelet-bad-org", node("kubelet-bad-org", []string{"dev"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"digital signature", "client auth"}, "subject organization is not system:nodes"},
		{"kubelet-bad-usages", node("kubelet-bad-usages", []string{"system:nodes"}, nil), "kubernetes.io/kube-apiserver-client-kubelet", []string{"client auth"}, "usages did not match [client auth digital signature key encipherment]"},
		{"serving-ok", node("serving-ok", []string{"system:nodes"}, []string{"serving-ok.example"}), "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth"}, ""},
		{"serving-no-san", node("serving-no-san", []string{"system:nodes"}, nil), "kubernetes.io/kubelet-serving", []string{"digital signature", "server auth"}, "DNS or IP subjectAltName is required"},
	}
	var names []string
	for _, tc := range cases {
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, tc.request, tc.signer, 3600, tc.usages...)))
		names = append(names, tc.name)
	}
	framework.MustKubectl(t, kc, append([]string{"certificate", "approve"}, names...)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			framework.Eventually(t, 20*time.Second, tc.name+" to be issued or failed", func() bool {
				c := condition(t, kc, tc.name)
				return strings.Contains(c, "Issued") || strings.Contains(c, "Failed")
			})
			got := condition(t, kc, tc.name)
			if tc.wantFailed == "" {
				if got != "Approved,Issued" {
					t.Fatalf("condition = %q, want Approved,Issued", got)
				}
				return
			}
			if got != "Approved,Failed" {
				t.Fatalf("condition = %q, want Approved,Failed", got)
			}
			reason := framework.MustKubectl(t, kc, "get", "csr", tc.name, "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}|{.status.conditions[?(@.type=="Failed")].message}`)
			if want := "SignerValidationFailure|" + tc.wantFailed; reason != want {
				t.Errorf("Failed condition = %q, want %q", reason, want)
			}
			// kubectl describe shows the refusal as an event.
			framework.Eventually(t, 10*time.Second, "a SignerValidationFailure event", func() bool {
				d := framework.MustKubectl(t, kc, "describe", "csr", tc.name)
				return strings.Contains(d, "Warning  SignerValidationFailure") && strings.Contains(d, tc.wantFailed)
			})
		})
	}

	t.Run("unserved signer is never silent", func(t *testing.T) {
		req := framework.GoCSR(t, dir, "custom", "svc", nil, []string{"svc.example"}, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "custom.yaml", framework.CSRManifest("custom", req, "example.com/not-configured", 3600, "server auth")))
		framework.MustKubectl(t, kc, "certificate", "approve", "custom")
		var msg string
		framework.Eventually(t, 20*time.Second, "a SignerUnavailable condition", func() bool {
			msg = framework.MustKubectl(t, kc, "get", "csr", "custom", "-o", `jsonpath={.status.conditions[?(@.type=="SignerUnavailable")].message}`)
			return msg != ""
		})
		if !strings.Contains(msg, `no signer serves signerName "example.com/not-configured"`) || !strings.Contains(msg, "--signer-config") {
			t.Errorf("message %q does not say what is wrong and what to do", msg)
		}
		// The list says so too: Approved but never issued is visible at a glance.
		if got := framework.TableRows(framework.MustKubectl(t, kc, "get", "csr", "custom"))[1]; got[len(got)-1] != "Approved,SignerUnavailable" {
			t.Errorf("kubectl get csr CONDITION = %q, want Approved,SignerUnavailable", got[len(got)-1])
		}
	})
}

// TestCustomSigner: a signer declared in --signer-config with its own CA and rules.
func TestCustomSigner(t *testing.T) {
	dir := t.TempDir()
	// A separate CA for the webhook signer, made with openssl as an operator would.
	framework.Openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "webhook-ca.key")
	os.Chmod(filepath.Join(dir, "webhook-ca.key"), 0o600)
	framework.Openssl(t, dir, "req", "-x509", "-new", "-key", "webhook-ca.key", "-subj", "/CN=webhook-ca", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "webhook-ca.crt")
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: example.com/internal-webhook
  ca: {certFile: %s, keyFile: %s}
  maxDuration: 48h
  rules:
    allowedUsages: [digital signature, key encipherment, server auth]
    requiredUsages: [server auth]
    dnsNames: ["*.*.svc", "*.*.svc.cluster.local"]
`, filepath.Join(dir, "webhook-ca.crt"), filepath.Join(dir, "webhook-ca.key")))
	s := framework.StartServer(t, "", "--signer-config", config)
	kc := s.Kubeconfig
	const signer = "example.com/internal-webhook"
	ok := framework.GoCSR(t, dir, "hook", "hook.default.svc", nil, []string{"hook.default.svc"}, nil)
	bad := framework.GoCSR(t, dir, "hook-bad", "hook", nil, []string{"hook.example.com"}, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "ok.yaml", framework.CSRManifest("hook", ok, signer, 30*86400, "digital signature", "server auth")))
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "bad.yaml", framework.CSRManifest("hook-bad", bad, signer, 3600, "server auth")))
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "bad-usage.yaml", framework.CSRManifest("hook-usage", ok, signer, 3600, "server auth", "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "hook", "hook-bad", "hook-usage")
	framework.WaitIssued(t, kc, "hook")

	cert := parseCert(t, framework.IssuedCertificate(t, kc, "hook"))
	if cert.Issuer.CommonName != "webhook-ca" {
		t.Errorf("issuer = %s, want the webhook CA", cert.Issuer)
	}
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 48*time.Hour+5*time.Minute {
		t.Errorf("lifetime %s exceeds the signer's 48h maximum", life)
	}
	for name, want := range map[string]string{
		"hook-bad":   `DNS subjectAltName "hook.example.com" is not allowed for signer example.com/internal-webhook; allowed: *.*.svc, *.*.svc.cluster.local`,
		"hook-usage": `usage "client auth" is not allowed for signer example.com/internal-webhook; allowed: digital signature, key encipherment, server auth`,
	} {
		framework.Eventually(t, 20*time.Second, name+" to fail", func() bool { return strings.Contains(condition(t, kc, name), "Failed") })
		if got := framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].message}`); got != want {
			t.Errorf("%s: Failed message = %q, want %q", name, got, want)
		}
	}

	// A broken signer configuration is refused at start with what to fix.
	broken := framework.WriteFile(t, dir, "broken.yaml", "apiVersion: kcsr.dev/v1alpha1\nkind: SignerConfiguration\nsigners:\n- signerName: example.com/x\n  rules: {allowedUsages: [client-auth]}\n")
	r := framework.Run(t, "", framework.Binary(t), "server", "--data-dir", filepath.Join(dir, "d2"), "--signer-config", broken)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `unknown usage "client-auth"`) || !strings.Contains(r.Stderr, "needs a CA") {
		t.Errorf("broken --signer-config: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	// CA files that do not load: every one reported at once, before the PKI or etcd
	// start (issue 16 item 8).
	missingCA := framework.WriteFile(t, dir, "missing-ca.yaml", "apiVersion: kcsr.dev/v1alpha1\nkind: SignerConfiguration\nsigners:\n"+
		"- signerName: example.com/one\n  ca: {certFile: "+filepath.Join(dir, "nosuch-1.crt")+", keyFile: "+filepath.Join(dir, "nosuch-1.key")+"}\n"+
		"- signerName: example.com/two\n  ca: {certFile: "+filepath.Join(dir, "nosuch-2.crt")+", keyFile: "+filepath.Join(dir, "nosuch-2.key")+"}\n")
	r = framework.Run(t, "", framework.Binary(t), "server", "--data-dir", filepath.Join(dir, "d3"), "--signer-config", missingCA)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "signer example.com/one: read the CA certificate") || !strings.Contains(r.Stderr, "signer example.com/two: read the CA certificate") || strings.Contains(r.Stderr, "etcd") {
		t.Errorf("--signer-config with two missing CAs: exit %d\n%s", r.ExitCode, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "d3")); !os.IsNotExist(err) {
		t.Errorf("the data directory was created before the signer configuration was checked (%v)", err)
	}
}

// TestKillDuringApprovals: kill -9 during a burst of approvals; after restart every
// approved CSR has exactly one certificate and exactly one inventory record.
func TestKillDuringApprovals(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	kc := s.Kubeconfig
	const n = 40
	var manifests strings.Builder
	var names []string
	for i := range n {
		name := fmt.Sprintf("burst-%02d", i)
		names = append(names, name)
		req := framework.GoCSR(t, dir, name, name, []string{"burst"}, nil, nil)
		manifests.WriteString("---\n" + framework.CSRManifest(name, req, clientSigner, 3600, "client auth"))
	}
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "burst.yaml", manifests.String()))
	framework.MustKubectl(t, kc, append([]string{"certificate", "approve"}, names...)...)
	s.Kill() // the signer is mid-burst
	s.Start()

	framework.Eventually(t, 60*time.Second, "every approved CSR to be issued", func() bool {
		out := framework.MustKubectl(t, kc, "get", "csr", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.certificate}{\"\\n\"}{end}")
		issued := 0
		for _, line := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "burst-") && v != "" {
				issued++
			}
		}
		return issued == n
	})
	records := framework.MustKubectl(t, kc, "get", "issuedcertificates", "-o", "jsonpath={range .items[*]}{.spec.csrName} {.spec.serialNumber}{\"\\n\"}{end}")
	perCSR, serials := map[string]int{}, map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(records), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		perCSR[f[0]]++
		if serials[f[1]] {
			t.Errorf("serial %s used twice", f[1])
		}
		serials[f[1]] = true
	}
	for _, name := range names {
		if perCSR[name] != 1 {
			t.Errorf("%s has %d inventory records, want 1", name, perCSR[name])
		}
		cert := parseCert(t, framework.IssuedCertificate(t, kc, name))
		rec := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName="+name, "-o", "jsonpath={.items[0].spec.serialNumber}")
		if rec != cert.SerialNumber.Text(16) {
			t.Errorf("%s: CSR certificate serial %s, inventory %s", name, cert.SerialNumber.Text(16), rec)
		}
	}
	t.Logf("%d CSRs approved, kill -9 mid-burst: %d issued, %d inventory records, %d distinct serials", n, n, len(perCSR), len(serials))
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("not a PEM certificate: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
