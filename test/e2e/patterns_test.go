package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestSignerNamePatterns (issue 13 item 8): in a custom signer's rules `*` matches one DNS
// label, as docs/signers.md says. Under dnsNames ["*.svc"], x.svc (and X.SVC) is issued,
// kubernetes.default.svc and x.svc. become Failed with what to change, and a pattern that
// cannot match what it seems to stops the server at start.
func TestSignerNamePatterns(t *testing.T) {
	dir := t.TempDir()
	framework.Openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "svc-ca.key")
	os.Chmod(filepath.Join(dir, "svc-ca.key"), 0o600)
	framework.Openssl(t, dir, "req", "-x509", "-new", "-key", "svc-ca.key", "-subj", "/CN=svc-ca", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "svc-ca.crt")
	const signer = "example.com/svc"
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  ca: {certFile: %s, keyFile: %s}
  rules:
    allowedUsages: [digital signature, server auth]
    dnsNames: ["*.svc"]
`, signer, filepath.Join(dir, "svc-ca.crt"), filepath.Join(dir, "svc-ca.key")))
	s := framework.StartServer(t, "", "--signer-config", config)
	kc := s.Kubeconfig

	cases := []struct {
		name, dnsName string
		wantFailed    string // the Failed message; "" when issued
	}{
		{"one-label", "x.svc", ""},
		{"upper-case", "X.SVC", ""},
		{"two-labels", "kubernetes.default.svc", `DNS subjectAltName "kubernetes.default.svc" is not allowed for signer example.com/svc; allowed: *.svc`},
		{"trailing-dot", "x.svc.", `DNS subjectAltName "x.svc." is not allowed for signer example.com/svc: it ends with a dot; use the name without it`},
	}
	var names []string
	for _, tc := range cases {
		req := framework.GoCSR(t, dir, tc.name, tc.name, nil, []string{tc.dnsName}, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, tc.name+".yaml", framework.CSRManifest(tc.name, req, signer, 3600, "digital signature", "server auth")))
		names = append(names, tc.name)
	}
	framework.MustKubectl(t, kc, append([]string{"certificate", "approve"}, names...)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantFailed == "" {
				framework.WaitIssued(t, kc, tc.name)
				cert := parseCert(t, framework.IssuedCertificate(t, kc, tc.name))
				if len(cert.DNSNames) != 1 || cert.DNSNames[0] != tc.dnsName {
					t.Errorf("certificate DNS names = %q, want [%q]", cert.DNSNames, tc.dnsName)
				}
				return
			}
			framework.Eventually(t, 20*time.Second, tc.name+" to fail", func() bool { return strings.Contains(condition(t, kc, tc.name), "Failed") })
			if got := framework.MustKubectl(t, kc, "get", "csr", tc.name, "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].reason}: {.status.conditions[?(@.type=="Failed")].message}`); got != "SignerValidationFailure: "+tc.wantFailed {
				t.Errorf("Failed condition = %q, want %q", got, "SignerValidationFailure: "+tc.wantFailed)
			}
			if cert := framework.MustKubectl(t, kc, "get", "csr", tc.name, "-o", "jsonpath={.status.certificate}"); cert != "" {
				t.Error("a certificate was issued")
			}
		})
	}

	// Patterns that cannot mean what they seem to are refused at start.
	broken := framework.WriteFile(t, dir, "broken.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  ca: {certFile: %s, keyFile: %s}
  rules:
    dnsNames: ["*.svc", "a..svc", "*.svc."]
    emailAddresses: ["example.com"]
`, signer, filepath.Join(dir, "svc-ca.crt"), filepath.Join(dir, "svc-ca.key")))
	r := framework.Run(t, "", framework.Binary(t), "server", "--data-dir", filepath.Join(dir, "d2"), "--secure-port", fmt.Sprint(framework.FreePort(t)), "--signer-config", broken)
	for _, want := range []string{
		`signers[0].rules.dnsNames[1]: bad pattern "a..svc": it has an empty label (two dots in a row, or a leading dot)`,
		`signers[0].rules.dnsNames[2]: bad pattern "*.svc.": it ends with a dot; remove it (names in certificates have none)`,
		`signers[0].rules.emailAddresses[0]: bad pattern "example.com": it has no "@"`,
	} {
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, want) {
			t.Errorf("broken --signer-config: exit %d, want %q in:\n%s", r.ExitCode, want, r.Stderr)
		}
	}
}
