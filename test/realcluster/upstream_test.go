package realcluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestUpstreamOnRealCluster: `kcsr controller` beside kube-apiserver signs a signer
// through a real step-ca, records the certificate (with step-ca's intermediate in
// status.certificate), and carries a `kcsr revoke` to step-ca; upstream.login, which
// only kcsr server can honour, is refused at start.
func TestUpstreamOnRealCluster(t *testing.T) {
	ca := framework.StartStepCA(t)
	cluster := framework.StartKubeCluster(t, framework.KubeOptions{})
	kc := cluster.API.Kubeconfig
	dir := t.TempDir()
	const signer = "example.com/stepca"
	signers := func(login bool) string {
		return fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  upstream:
    login: %t
    stepCA: {url: %s, rootsFile: %s, provisioner: %s, provisionerKeyFile: %s}
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, client auth]
    requiredUsages: [client auth]
    commonNames: ["*"]
    organizations: [dev]
`, signer, login, ca.URL, ca.RootsFile, ca.Provisioner, ca.ProvisionerKeyFile)
	}

	refused := framework.StartProcess(t, framework.Binary(t), "controller", "--kubeconfig", kc, "--signer-config", framework.WriteFile(t, dir, "login.yaml", signers(true)))
	refused.Wait(30 * time.Second)
	if !strings.Contains(refused.Stderr(), "upstream.login is for kcsr server") {
		t.Errorf("kcsr controller with upstream.login did not refuse it:\n%s", refused.Stderr())
	}

	controller := framework.StartProcess(t, framework.Binary(t), "controller", "--kubeconfig", kc, "--signer-config", framework.WriteFile(t, dir, "signers.yaml", signers(false)))
	waitIdentity(t, controller)

	req := framework.GoCSR(t, dir, "alice", "alice", []string{"dev"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "alice.yaml", framework.CSRManifest("alice", req, signer, 3600, "digital signature", "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "alice")
	chain, err := pemutil.ParseCertificates(framework.WaitIssued(t, kc, "alice"))
	if err != nil || len(chain) != 2 || !chain[1].Equal(ca.Intermediate.Cert) {
		t.Fatalf("status.certificate: %d certificates (%v); want alice's, then step-ca's intermediate", len(chain), err)
	}

	r := framework.Kcsr(t, kc, "revoke", "--csr", "alice", "--reason", "keyCompromise")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "revoked at step-ca "+ca.URL) {
		t.Errorf("kcsr revoke on a real cluster of a step-ca certificate: exit %d\n%s\n%s", r.ExitCode, r.Combined(), controller.Stderr())
	}
	listed := false
	for _, e := range ca.CRL().RevokedCertificateEntries {
		listed = listed || e.SerialNumber.Cmp(chain[0].SerialNumber) == 0
	}
	if !listed {
		t.Errorf("step-ca's CRL does not list alice's serial %s", chain[0].SerialNumber.Text(16))
	}
}
