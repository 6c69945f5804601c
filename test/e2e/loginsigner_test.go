package e2e

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// opsSignerConfig declares example.com/ops on the cluster CA's own files, allowing any
// organization: its certificates log in to the server.
const opsSignerConfig = `apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: example.com/ops
  ca: {certFile: %s, keyFile: %s}
  rules:
    allowedUsages: [digital signature, key encipherment, client auth]
    organizations: ["*"]
`

// TestLoginSignerGuardRails: issue 13 item 7. A custom signer on the cluster CA with
// organizations ["*"] is a login signer: system:masters is refused at create, a protected
// group is left to a person whatever the policies say, and its revocations are in the
// cluster CA's CRL and OCSP (and under the signer's own URLs).
func TestLoginSignerGuardRails(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	pkiDir := filepath.Join(dataDir, "pki")
	// The cluster CA does not exist yet: the server creates it before it reads the
	// signers' CAs.
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(opsSignerConfig, filepath.Join(pkiDir, "ca.crt"), filepath.Join(pkiDir, "ca.key")))
	port := framework.FreePort(t)
	s := framework.StartServer(t, dataDir, "--signer-config", config, "--public-port", fmt.Sprint(port), "--protected-groups", "system:masters,platform-admins")
	kc := s.Kubeconfig
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	caFile := s.CACertPath()
	const ops = "example.com/ops"

	if log := s.Stderr(); !strings.Contains(log, `"Login signers`) || !strings.Contains(log, `"example.com/ops"`) {
		t.Errorf("the start log does not name the login signers:\n%s", log)
	}

	// system:masters is refused at create, as for kube-apiserver-client.
	masters := framework.GoCSR(t, dir, "masters", "root", []string{"system:masters"}, nil, nil)
	r := framework.Kubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "masters.yaml", framework.CSRManifest("masters", masters, ops, 3600, "client auth")))
	if want := "use of example.com/ops signer with system:masters group is not allowed: this server accepts the signer's certificates for login (its CA is trusted for client authentication); request the certificate without system:masters"; r.ExitCode == 0 || !strings.Contains(r.Stderr, want) {
		t.Errorf("a system:masters CSR for %s: exit %d, want the message %q\n%s", ops, r.ExitCode, want, r.Stderr)
	}

	// A policy approving everything for the signer does not approve a protected group.
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "approve-ops.yaml", framework.ApprovalPolicy("approve-ops", "example.com/ops", "Approve", "")))
	platform := framework.GoCSR(t, dir, "platform", "carol", []string{"platform-admins"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "platform.yaml", framework.CSRManifest("platform", platform, ops, 3600, "client auth")))
	var verdict string
	framework.Eventually(t, 20*time.Second, "a guard-rail verdict", func() bool {
		verdict = framework.MustKubectl(t, kc, "get", "csr", "platform", "-o", `jsonpath={.metadata.annotations.kcsr\.dev/approval-verdict}`)
		return verdict != ""
	})
	if want := `guard rail protectedGroups: a example.com/ops certificate for the protected group "platform-admins" is never approved automatically`; !strings.Contains(verdict, want) || condition(t, kc, "platform") != "Pending" {
		t.Errorf("protected group for %s: %s, verdict %q; want Pending with %q", ops, condition(t, kc, "platform"), verdict, want)
	}

	// An ordinary group is issued (by the policy), and logs in.
	req := framework.GoCSR(t, dir, "ops", "olga", []string{"ops"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "ops.yaml", framework.CSRManifest("ops", req, ops, 3600, "client auth")))
	framework.WaitIssued(t, kc, "ops")
	certFile := framework.WriteFile(t, dir, "ops.crt", string(framework.IssuedCertificate(t, kc, "ops")))
	cert := parseCert(t, mustRead(t, certFile))
	if got := strings.Join(append(cert.CRLDistributionPoints, cert.OCSPServer...), ","); got != base+"/crl/cluster.crl,"+base+"/ocsp/cluster" {
		t.Errorf("CRL and OCSP URLs = %q, want the cluster CA's", got)
	}
	userKC := s.UserKubeconfig(t, dir, "olga", "--client-certificate", certFile, "--client-key", filepath.Join(dir, "ops.key"))
	if out := framework.MustKubectl(t, userKC, "auth", "whoami", "-o", "jsonpath={.status.userInfo.groups}"); !strings.Contains(out, `"ops"`) {
		t.Errorf("kubectl auth whoami with the ops certificate: %s", out)
	}

	if r := framework.Run(t, "", framework.Binary(t), "revoke", "--csr", "ops", "--reason", "keyCompromise", "--kubeconfig", kc); r.ExitCode != 0 {
		t.Fatalf("revoke: %s", r.Combined())
	}

	// The cluster CA's CRL lists it, and so does the signer's own URL (the same CRL).
	serialHex := strings.ToUpper(cert.SerialNumber.Text(16))
	crlText := func(id string) string {
		t.Helper()
		resp, err := http.Get(base + "/crl/" + id + ".crl")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		der, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /crl/%s.crl: %d", id, resp.StatusCode)
		}
		framework.WriteFile(t, dir, id+".crl.der", string(der))
		framework.Openssl(t, dir, "crl", "-inform", "DER", "-in", id+".crl.der", "-out", id+".crl.pem")
		return framework.Openssl(t, dir, "crl", "-in", id+".crl.pem", "-noout", "-text")
	}
	framework.Eventually(t, 10*time.Second, "the cluster CRL to list the serial", func() bool {
		return strings.Contains(strings.ReplaceAll(crlText("cluster"), ":", ""), serialHex)
	})
	if text := crlText("example.com_ops"); !strings.Contains(strings.ReplaceAll(text, ":", ""), serialHex) || !strings.Contains(text, "Key Compromise") {
		t.Errorf("/crl/example.com_ops.crl does not list %s:\n%s", serialHex, text)
	}
	if out := framework.Run(t, "", "openssl", "verify", "-crl_check", "-CAfile", caFile, "-CRLfile", filepath.Join(dir, "cluster.crl.pem"), certFile).Combined(); !strings.Contains(out, "certificate revoked") {
		t.Errorf("openssl verify -crl_check with the cluster CRL:\n%s", out)
	}

	// OCSP of the cluster CA says revoked, with the reason.
	for _, id := range []string{"cluster", "example.com_ops"} {
		out := framework.Run(t, "", "openssl", "ocsp", "-issuer", caFile, "-cert", certFile, "-url", base+"/ocsp/"+id, "-CAfile", caFile, "-resp_text").Combined()
		if !strings.Contains(out, certFile+": revoked") || !strings.Contains(out, "Reason: keyCompromise") || !strings.Contains(out, "Response verify OK") {
			t.Errorf("openssl ocsp at /ocsp/%s:\n%s", id, out)
		}
	}

	// And the certificate no longer logs in.
	if r := framework.Kubectl(t, userKC, "auth", "whoami"); r.ExitCode == 0 {
		t.Errorf("the revoked ops certificate still logs in: %s", r.Stdout)
	}
}
