package vault

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestVaultUpstream: issue 19 with a real Vault, over TLS (caFile). Signers issue through
// Vault's PKI mount with sign-verbatim, one logging in with an AppRole, one with a token
// file, and one through a role's sign path. The
// certificate keeps the request's groups, is issued by the mount's root, recorded, and
// logs in to kcsr server (upstream.login); an expired token leaves the CSR
// SignerUnavailable saying so, and a new token in the file issues it; a sealed Vault
// does the same, and unsealing it issues; kcsr revoke reaches Vault's CRL and ends the
// login.
func TestVaultUpstream(t *testing.T) {
	v := framework.StartVault(t)
	dir := t.TempDir()
	const appRoleSigner, tokenSigner, roleSigner = "example.com/vault", "example.com/vault-token", "example.com/vault-role"
	// A role for serving certificates of *.default.svc: its sign path decides the subject
	// but for the CN, and the usages (server auth only).
	v.Must(http.MethodPost, "/v1/pki/roles/webhook", map[string]any{
		"allowed_domains": []string{"default.svc"}, "allow_subdomains": true, "key_type": "ec", "key_bits": 256,
		"server_flag": true, "client_flag": false, "max_ttl": "24h",
	})
	tokenFile, tokenExpiry := v.TokenFile("token", 8*time.Second), time.Now().Add(8*time.Second)
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %[1]s
  upstream:
    login: true
    vault:
      address: %[3]s
      caFile: %[9]s
      mount: pki
      rootsFile: %[4]s
      auth:
        appRole: {roleID: %[5]s, secretIDFile: %[6]s}
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, client auth]
    requiredUsages: [client auth]
    commonNames: ["*"]
    organizations: [dev, ops]
- signerName: %[2]s
  upstream:
    vault:
      address: %[3]s
      caFile: %[9]s
      mount: pki
      rootsFile: %[4]s
      auth: {tokenFile: %[7]s}
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, client auth]
    commonNames: ["*"]
- signerName: %[8]s
  upstream:
    vault:
      address: %[3]s
      caFile: %[9]s
      mount: pki
      sign: role
      role: webhook
      rootsFile: %[4]s
      auth:
        appRole: {roleID: %[5]s, secretIDFile: %[6]s}
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, key encipherment, server auth]
    requiredUsages: [server auth]
    dnsNames: ["*.default.svc"]
    commonNames: ["*.default.svc"]
`, appRoleSigner, tokenSigner, v.Address, v.RootsFile, v.RoleID, v.SecretIDFile, tokenFile, roleSigner, v.CAFile))
	s := framework.StartServer(t, "", "--signer-config", config)
	kc := s.Kubeconfig

	create := func(name, signer, cn string, orgs ...string) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, cn, orgs, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, signer, 3600, "digital signature", "client auth")))
		framework.MustKubectl(t, kc, "certificate", "approve", name)
	}
	unavailable := func(name string) string {
		t.Helper()
		var msg string
		framework.Eventually(t, 60*time.Second, name+" to wait with SignerUnavailable", func() bool {
			msg = framework.MustKubectl(t, kc, "get", "csr", name, "-o", `jsonpath={.status.conditions[?(@.type=="SignerUnavailable")].message}`)
			return msg != ""
		})
		return msg
	}

	// AppRole: issued by Vault's root with the groups kept, recorded, and it logs in.
	create("alice", appRoleSigner, "alice", "dev", "ops")
	pemCert := framework.WaitIssued(t, kc, "alice")
	cert, err := pemutil.FirstCertificate(pemCert)
	if err != nil {
		t.Fatal(err)
	}
	if got := cert.Subject.String(); !strings.Contains(got, "CN=alice") || !strings.Contains(got, "dev") || !strings.Contains(got, "ops") {
		t.Errorf("subject %q: the groups were lost", got)
	}
	if err := cert.CheckSignatureFrom(v.Root); err != nil {
		t.Errorf("not signed by Vault's root: %v", err)
	}
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName=alice", "-o", "jsonpath={.items[0].spec.signerName} {.items[0].metadata.annotations.kcsr\\.dev/upstream}"); got != appRoleSigner+" Vault "+v.Address+" (pki)" {
		t.Errorf("inventory record of alice: %q", got)
	}
	aliceCert := framework.WriteFile(t, dir, "alice.crt", string(pemCert))
	aliceKC := s.UserKubeconfig(t, dir, "alice", "--client-certificate", aliceCert, "--client-key", filepath.Join(dir, "alice.key"))
	whoami := func() framework.Result {
		return framework.Kubectl(t, aliceKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
	}
	if r := whoami(); r.ExitCode != 0 || r.Stdout != `alice ["dev","ops","system:authenticated"]` {
		t.Errorf("alice's Vault certificate does not log in as alice (dev, ops): exit %d\n%s", r.ExitCode, r.Combined())
	}

	// Through a role's sign path: a serving certificate with the role's usages; a request
	// with a group, which the role would drop, is refused by the signer's rules first.
	for _, c := range []struct {
		name string
		orgs []string
	}{{"web", nil}, {"web-dev", []string{"dev"}}} {
		req := framework.GoCSR(t, dir, c.name, c.name+".default.svc", c.orgs, []string{c.name + ".default.svc"}, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, c.name+".yaml", framework.CSRManifest(c.name, req, roleSigner, 3600, "digital signature", "key encipherment", "server auth")))
		framework.MustKubectl(t, kc, "certificate", "approve", c.name)
	}
	web, err := pemutil.FirstCertificate(framework.WaitIssued(t, kc, "web"))
	if err != nil {
		t.Fatal(err)
	}
	if web.Subject.CommonName != "web.default.svc" || len(web.DNSNames) != 1 || web.DNSNames[0] != "web.default.svc" || len(web.ExtKeyUsage) != 1 || web.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("through the role: CN %q, DNS %v, extended usages %v; want web.default.svc, server auth", web.Subject.CommonName, web.DNSNames, web.ExtKeyUsage)
	}
	framework.Eventually(t, 30*time.Second, "web-dev to fail", func() bool {
		return strings.Contains(framework.MustKubectl(t, kc, "get", "csr", "web-dev", "-o", "jsonpath={.status.conditions[*].type}"), "Failed")
	})

	// A token file whose token has expired: the condition says so and what to do; a new
	// token in the file issues the request, without a restart.
	time.Sleep(time.Until(tokenExpiry.Add(time.Second)))
	create("carol", tokenSigner, "carol")
	msg := unavailable("carol")
	t.Logf("with an expired token: %s", msg)
	if !strings.Contains(msg, "Vault "+v.Address) || !strings.Contains(msg, "invalid token") || !strings.Contains(msg, "write a new one in auth.tokenFile "+tokenFile) {
		t.Errorf("SignerUnavailable with an expired token: %q; want it to name Vault, the invalid token and the file to rewrite", msg)
	}
	fresh, err := os.ReadFile(v.TokenFile("token2", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, fresh, 0o600); err != nil {
		t.Fatal(err)
	}
	framework.WaitIssued(t, kc, "carol")

	// A sealed Vault: SignerUnavailable naming it; issued once it is unsealed.
	v.Seal()
	create("bob", appRoleSigner, "bob", "dev")
	msg = unavailable("bob")
	t.Logf("with Vault sealed: %s", msg)
	if !strings.Contains(msg, "Vault "+v.Address) || !strings.Contains(msg, "sealed") {
		t.Errorf("SignerUnavailable with Vault sealed: %q; want it to name Vault and say it is sealed", msg)
	}
	if doc := framework.Kcsr(t, kc, "doctor", "bob"); !strings.Contains(doc.Stdout, "Vault "+v.Address) {
		t.Errorf("kcsr doctor on a CSR waiting for Vault does not name it:\n%s", doc.Combined())
	}
	v.Unseal()
	framework.WaitIssued(t, kc, "bob")

	// kcsr revoke reaches Vault (its CRL lists the serial) and ends the login at once.
	r := framework.Kcsr(t, kc, "revoke", "--csr", "alice", "--reason", "keyCompromise")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "revoked at Vault "+v.Address) {
		t.Errorf("kcsr revoke of a Vault certificate: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if !v.Revoked(cert) {
		t.Errorf("Vault's CRL does not list alice's serial %s", cert.SerialNumber.Text(16))
	}
	if r := whoami(); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("alice's revoked Vault certificate still logs in: exit %d\n%s", r.ExitCode, r.Combined())
	}
}
