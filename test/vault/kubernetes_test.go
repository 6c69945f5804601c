package vault

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestVaultKubernetesAuthOnRealCluster: `kcsr controller` beside a real kube-apiserver
// logs in to Vault with its service account token (Vault's Kubernetes auth method checks
// it with the cluster's TokenReview), signs a CSR of the cluster through Vault, and
// carries kcsr revoke to Vault: the seed's "forward it to Vault to be signed, and push
// the resulting certificate back into Kubernetes".
func TestVaultKubernetesAuthOnRealCluster(t *testing.T) {
	cluster := framework.StartKubeCluster(t, framework.KubeOptions{Controllers: "-"})
	kc := cluster.API.Kubeconfig
	dir := t.TempDir()

	// kcsr's service account; Vault reviews its token with the token itself, which
	// therefore needs system:auth-delegator.
	framework.MustKubectl(t, kc, "create", "serviceaccount", "kcsr", "-n", "default")
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "kcsr-vault-tokenreview", "--clusterrole", "system:auth-delegator", "--serviceaccount", "default:kcsr")
	jwt := framework.MustKubectl(t, kc, "create", "token", "kcsr", "-n", "default", "--duration", "1h")
	jwtFile := framework.WriteFile(t, dir, "token", jwt)

	v := framework.StartVault(t)
	ca, err := os.ReadFile(cluster.API.CACertPath())
	if err != nil {
		t.Fatal(err)
	}
	v.EnableKubernetesAuth(cluster.API.URL, ca, "default", "kcsr")

	const signer = "example.com/vault"
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  upstream:
    vault:
      address: %s
      caFile: %s
      mount: pki
      rootsFile: %s
      auth:
        kubernetes: {role: kcsr, jwtFile: %s}
  maxDuration: 2h
  rules:
    allowedUsages: [digital signature, client auth]
    requiredUsages: [client auth]
    commonNames: ["*"]
    organizations: [dev]
`, signer, v.Address, v.CAFile, v.RootsFile, jwtFile))
	controller := framework.StartProcess(t, framework.Binary(t), "controller", "--kubeconfig", kc, "--signer-config", config)
	framework.Eventually(t, 60*time.Second, "kcsr controller to start", func() bool {
		if controller.Exited() {
			t.Fatalf("kcsr controller exited:\n%s", controller.Stderr())
		}
		return strings.Contains(controller.Stdout(), "kcsr controller ")
	})

	req := framework.GoCSR(t, dir, "alice", "alice", []string{"dev"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "alice.yaml", framework.CSRManifest("alice", req, signer, 3600, "digital signature", "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "alice")
	cert, err := pemutil.FirstCertificate(framework.WaitIssued(t, kc, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(v.Root); err != nil || !strings.Contains(cert.Subject.String(), "O=dev") {
		t.Errorf("alice's certificate (%s) is not Vault's with her group: %v", cert.Subject, err)
	}

	r := framework.Kcsr(t, kc, "revoke", "--csr", "alice", "--reason", "keyCompromise")
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "revoked at Vault "+v.Address) {
		t.Errorf("kcsr revoke on a real cluster of a Vault certificate: exit %d\n%s\n%s", r.ExitCode, r.Combined(), controller.Stderr())
	}
	if !v.Revoked(cert) {
		t.Errorf("Vault's CRL does not list alice's serial %s", cert.SerialNumber.Text(16))
	}
}
