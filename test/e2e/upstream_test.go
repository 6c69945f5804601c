package e2e

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/pkg/upstream"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestStepCAUpstream: a signer whose certificates a real step-ca issues (issue 19). kcsr
// checks its rules before the request leaves and the answer after; the certificate keeps
// the request's groups (O), is issued by step-ca's intermediate and recorded in the
// inventory; it logs in to kcsr server (upstream.login), where a certificate step-ca signed
// for anyone else, even for the same name, does not; with step-ca down an approved CSR
// waits with SignerUnavailable naming it, and is issued once step-ca is back; a request
// the signer's rules refuse never reaches it; a revocation reaches step-ca and ends the
// login at once.
func TestStepCAUpstream(t *testing.T) {
	ca := framework.StartStepCA(t)
	dir := t.TempDir()
	const signer = "example.com/stepca"
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  upstream:
    login: true
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

	// status.certificate carries the intermediate after the certificate, and alice logs
	// in with it, as herself and her groups.
	chain, err := pemutil.ParseCertificates(pemCert)
	if err != nil || len(chain) != 2 || !chain[1].Equal(ca.Intermediate.Cert) {
		t.Fatalf("status.certificate: %d certificates (%v); want alice's, then step-ca's intermediate", len(chain), err)
	}
	login := func(name, certFile string) framework.Result {
		t.Helper()
		userKC := s.UserKubeconfig(t, dir, name, "--client-certificate", certFile, "--client-key", filepath.Join(dir, name+".key"))
		return framework.Kubectl(t, userKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
	}
	aliceCert := framework.WriteFile(t, dir, "alice.crt", string(pemCert))
	if r := login("alice", aliceCert); r.ExitCode != 0 || r.Stdout != `alice ["dev","ops","system:authenticated"]` {
		t.Errorf("alice's step-ca certificate does not log in as alice (dev, ops): exit %d\n%s", r.ExitCode, r.Combined())
	}

	// The side door stays shut: step-ca signs, for another client of the same provisioner,
	// a certificate for system:masters and one for alice's own name and groups; neither was
	// asked for by kcsr nor recorded, so neither logs in.
	direct, err := upstream.NewStepCA(&upstream.StepCAConfig{URL: ca.URL, RootsFile: ca.RootsFile, Provisioner: ca.Provisioner, ProvisionerKeyFile: ca.ProvisionerKeyFile})
	if err != nil {
		t.Fatal(err)
	}
	sideChains := map[string][]*x509.Certificate{}
	for _, side := range []struct {
		name, cn string
		orgs     []string
	}{{"root", "root", []string{"system:masters"}}, {"alice2", "alice", []string{"dev", "ops"}}} {
		key := testkit.NewKey(t, testkit.P256)
		framework.WriteFile(t, dir, side.name+".key", string(testkit.KeyPEM(t, key)))
		req, _ := testkit.NewRequest(t, key, testkit.Request(t, side.cn, testkit.WithOrg(side.orgs...)))
		signed, err := direct.Sign(context.Background(), req, nil, time.Hour)
		if err != nil {
			t.Fatalf("step-ca refused to sign %s directly: %v", side.name, err)
		}
		sideChains[side.name] = signed
		certFile := framework.WriteFile(t, dir, side.name+".crt", string(pemutil.EncodeCertificates(signed)))
		if r := login(side.name, certFile); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
			t.Errorf("a certificate step-ca signed outside kcsr (CN=%s, O=%v) logged in: exit %d\n%s", side.cn, side.orgs, r.ExitCode, r.Combined())
		}
	}
	if log := s.Stderr(); !strings.Contains(log, "kcsr's inventory has no record of it for that signer issued for login") {
		t.Errorf("the server's log does not say why the unrecorded certificates were refused:\n%s", log)
	}
	// For this signer a record is a login: an inventory keeper (RBAC create on
	// issuedcertificates) may not record the system:masters certificate step-ca signed.
	framework.MustKubectl(t, kc, "create", "clusterrole", "inventory-keeper", "--verb", "create,get,list", "--resource", "issuedcertificates.kcsr.dev")
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "inventory-keeper", "--clusterrole", "inventory-keeper", "--user", "keeper")
	framework.IssueClientCert(t, kc, dir, "keeper")
	keeper := s.UserKubeconfig(t, dir, "keeper", "--client-certificate", filepath.Join(dir, "keeper.crt"), "--client-key", filepath.Join(dir, "keeper.key"))
	forged := inventory.NewRecord(testkit.CSR("root", testkit.SetSignerName(signer)), signer, sideChains["root"][0], pemutil.EncodeCertificate(sideChains["root"][0].Raw))
	forged.APIVersion, forged.Kind = "kcsr.dev/v1alpha1", "IssuedCertificate"
	forged.Spec.Login = true
	forgedJSON, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	r := framework.Kubectl(t, keeper, "create", "-f", framework.WriteFile(t, dir, "forged.json", string(forgedJSON)))
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `needs the verbs "approve" and "sign" on signers.certificates.k8s.io "example.com/stepca"`) {
		t.Errorf("an inventory keeper recorded a certificate of an upstream login signer: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if r := login("root", filepath.Join(dir, "root.crt")); r.ExitCode == 0 {
		t.Errorf("the system:masters certificate step-ca signed outside kcsr logs in after the forgery attempt:\n%s", r.Combined())
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
	r = framework.Kcsr(t, kc, "revoke", "--csr", "alice", "--reason", "keyCompromise")
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
	if r := login("alice", aliceCert); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("alice's revoked step-ca certificate still logs in: exit %d\n%s", r.ExitCode, r.Combined())
	}
	// step-ca down: kcsr revokes at once (login), says step-ca has not, and keeps asking.
	ca.Stop()
	r = framework.Kcsr(t, kc, "revoke", "--csr", "bob", "--reason", "affiliationChanged")
	if r.ExitCode == 0 || !strings.Contains(r.Stdout, "revoked certificate") || !strings.Contains(r.Stderr, "connection refused") || !strings.Contains(r.Stderr, "kcsr refuses it at login already") {
		t.Errorf("kcsr revoke with step-ca down: exit %d\n%s", r.ExitCode, r.Combined())
	}
}
