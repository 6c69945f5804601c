package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestStepCAUpstream: a signer whose certificates a real step-ca issues (issue 19). kcsr
// checks its rules before the request leaves and the answer after; the certificate keeps
// the request's groups (O), is issued by step-ca's intermediate and recorded in the
// inventory; with step-ca down an approved CSR waits with SignerUnavailable naming it, and
// is issued once step-ca is back; a request the signer's rules refuse never reaches it.
func TestStepCAUpstream(t *testing.T) {
	ca := framework.StartStepCA(t)
	dir := t.TempDir()
	const signer = "example.com/stepca"
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  upstream:
    stepCA:
      url: %s
      rootsFile: %s
      provisioner: %s
      provisionerKeyFile: %s
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, client auth]
    requiredUsages: [client auth]
    commonNames: ["*"]
    organizations: [dev, ops]
`, signer, ca.URL, ca.RootsFile, ca.Provisioner, ca.ProvisionerKeyFile))
	s := framework.StartServer(t, "", "--signer-config", config)
	kc := s.Kubeconfig

	create := func(name, cn string, orgs ...string) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, cn, orgs, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, signer, 3600, "digital signature", "client auth")))
	}

	// Issued by step-ca, subject kept, recorded.
	create("alice", "alice", "dev", "ops")
	framework.MustKubectl(t, kc, "certificate", "approve", "alice")
	pemCert := framework.WaitIssued(t, kc, "alice")
	cert, err := pemutil.FirstCertificate(pemCert)
	if err != nil {
		t.Fatal(err)
	}
	if got := cert.Subject.String(); !strings.Contains(got, "CN=alice") || !strings.Contains(got, "O=dev") || !strings.Contains(got, "ops") {
		t.Errorf("subject %q: the groups were lost", got)
	}
	if cert.Issuer.CommonName != "step test intermediate" {
		t.Errorf("issuer %q, want step-ca's intermediate", cert.Issuer.String())
	}
	if err := cert.CheckSignatureFrom(ca.Intermediate.Cert); err != nil {
		t.Errorf("not signed by step-ca's intermediate: %v", err)
	}
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName=alice", "-o", "jsonpath={.items[0].spec.signerName} {.items[0].spec.serialNumber}"); got != signer+" "+cert.SerialNumber.Text(16) {
		t.Errorf("inventory record of alice: %q", got)
	}

	// The signer's rules first: a group it does not allow never reaches step-ca.
	create("mallory", "mallory", "admins")
	framework.MustKubectl(t, kc, "certificate", "approve", "mallory")
	framework.Eventually(t, 30*time.Second, "mallory to fail", func() bool {
		return strings.Contains(framework.MustKubectl(t, kc, "get", "csr", "mallory", "-o", "jsonpath={.status.conditions[*].type}"), "Failed")
	})
	if strings.Contains(ca.Logs(), "mallory") {
		t.Errorf("a request the signer's rules refuse reached step-ca:\n%s", ca.Logs())
	}

	// step-ca down: SignerUnavailable naming it, then issued when it is back.
	ca.Stop()
	create("bob", "bob", "dev")
	framework.MustKubectl(t, kc, "certificate", "approve", "bob")
	var msg string
	framework.Eventually(t, 30*time.Second, "bob to wait with SignerUnavailable", func() bool {
		msg = framework.MustKubectl(t, kc, "get", "csr", "bob", "-o", `jsonpath={.status.conditions[?(@.type=="SignerUnavailable")].message}`)
		return msg != ""
	})
	if !strings.Contains(msg, "step-ca "+ca.URL) || !strings.Contains(msg, "connection refused") {
		t.Errorf("SignerUnavailable message %q: it should name step-ca and the error", msg)
	}
	if doc := framework.Kcsr(t, kc, "doctor", "bob"); !strings.Contains(doc.Stdout, "step-ca "+ca.URL) {
		t.Errorf("kcsr doctor on a CSR waiting for step-ca does not name it:\n%s", doc.Combined())
	}
	ca.Start()
	framework.WaitIssued(t, kc, "bob")
	if got := framework.MustKubectl(t, kc, "get", "csr", "bob", "-o", `jsonpath={.status.conditions[?(@.type=="SignerUnavailable")].type}`); got != "" {
		t.Errorf("bob is issued and still SignerUnavailable")
	}

	// kcsr revoke carries the revocation to step-ca, and says so; step-ca's CRL lists it.
	r := framework.Kcsr(t, kc, "revoke", "--csr", "alice", "--reason", "keyCompromise")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "revoked at step-ca "+ca.URL) {
		t.Errorf("kcsr revoke of a step-ca certificate: exit %d\n%s", r.ExitCode, r.Combined())
	}
	listed := false
	for _, e := range ca.CRL().RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Cmp(cert.SerialNumber) == 0
	}
	if !listed {
		t.Errorf("step-ca's CRL does not list alice's serial %s", cert.SerialNumber.Text(16))
	}
	// step-ca down: kcsr revokes at once (login), says step-ca has not, and keeps asking.
	ca.Stop()
	r = framework.Kcsr(t, kc, "revoke", "--csr", "bob", "--reason", "affiliationChanged")
	if r.ExitCode == 0 || !strings.Contains(r.Stdout, "revoked certificate") || !strings.Contains(r.Stderr, "connection refused") || !strings.Contains(r.Stderr, "kcsr refuses it at login already") {
		t.Errorf("kcsr revoke with step-ca down: exit %d\n%s", r.ExitCode, r.Combined())
	}
}
