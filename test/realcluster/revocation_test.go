package realcluster

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestRevocationWebhookOnKubeAPIServer is issue 7's acceptance (b): kube-apiserver trusts
// kcsr server's CA for client certificates and has kcsr's revocation webhook first in its
// authorization chain (the configuration of docs/revocation.md). Once revoked in kcsr,
// rahul's certificate gets 403 from kube-apiserver; his other certificate still works.
func TestRevocationWebhookOnKubeAPIServer(t *testing.T) {
	dir := t.TempDir()
	publicPort := framework.FreePort(t)
	kcsr := framework.StartServer(t, "", "--public-port", fmt.Sprint(publicPort))

	webhookKubeconfig := framework.WriteFile(t, dir, "kcsr-webhook.kubeconfig", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kcsr
  cluster: {server: "http://127.0.0.1:%d/authorize"}
users:
- name: kube-apiserver
contexts:
- name: kcsr
  context: {cluster: kcsr, user: kube-apiserver}
current-context: kcsr
`, publicPort))
	authzConfig := framework.WriteFile(t, dir, "authz.yaml", fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
- type: Webhook
  name: kcsr-revocation
  webhook:
    timeout: 3s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: NoOpinion
    authorizedTTL: 1s
    unauthorizedTTL: 1s
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: %s
    matchConditions:
    - expression: "'authentication.kubernetes.io/credential-id' in request.extra"
- type: Node
  name: node
- type: RBAC
  name: rbac
`, webhookKubeconfig))
	cluster := framework.StartKubeCluster(t, framework.KubeOptions{
		Controllers:         "-",
		ExtraClientCAs:      []string{kcsr.CACertPath()},
		AuthorizationConfig: authzConfig,
	})
	// Not "view": it is an aggregated role, filled by kube-controller-manager, which does
	// not run here.
	framework.MustKubectl(t, cluster.API.Kubeconfig, "create", "clusterrole", "configmap-reader", "--verb", "get,list", "--resource", "configmaps")
	framework.MustKubectl(t, cluster.API.Kubeconfig, "create", "clusterrolebinding", "rahul-reader", "--clusterrole", "configmap-reader", "--user", "rahul")

	// Two certificates for rahul from kcsr server, with `kcsr request`.
	framework.StartApprover(t, kcsr.Kubeconfig, "rahul-")
	request := func(name string) string {
		r := framework.Run(t, "", framework.Binary(t), "request", "--kubeconfig", kcsr.Kubeconfig, "--user", "rahul", "--group", "developers",
			"--name", name, "--out-dir", dir, "--wait", "1m")
		if r.ExitCode != 0 {
			t.Fatalf("kcsr request %s: exit %d\n%s", name, r.ExitCode, r.Combined())
		}
		crt, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		return cluster.API.UserKubeconfig(t, dir, name+"-kube", "--client-certificate", crt, "--client-key", key)
	}
	first, second := request("rahul-laptop"), request("rahul-desktop")

	for _, kc := range []string{first, second} {
		if r := framework.Kubectl(t, kc, "get", "configmaps", "-n", "default", "-o", "name"); r.ExitCode != 0 {
			t.Fatalf("before revocation, rahul's certificate does not work on kube-apiserver: %s\n%s", r.Combined(), cluster.Logs())
		}
	}

	if r := framework.Run(t, "", framework.Binary(t), "revoke", "--kubeconfig", kcsr.Kubeconfig, "--csr", "rahul-laptop", "--reason", "keyCompromise"); r.ExitCode != 0 {
		t.Fatalf("kcsr revoke: %s", r.Combined())
	}
	revokedAt := time.Now()
	var last framework.Result
	framework.Eventually(t, 10*time.Second, "kube-apiserver to refuse the revoked certificate", func() bool {
		last = framework.Kubectl(t, first, "get", "configmaps", "-n", "default", "-o", "name")
		return last.ExitCode != 0
	})
	t.Logf("refused %s after the revocation", time.Since(revokedAt).Round(100*time.Millisecond))
	if !strings.Contains(last.Stderr, "Forbidden") || !strings.Contains(last.Stderr, "revoked") {
		t.Errorf("refusal = %q; want 403 Forbidden saying the certificate is revoked", last.Stderr)
	}
	if r := framework.Kubectl(t, second, "get", "configmaps", "-n", "default", "-o", "name"); r.ExitCode != 0 {
		t.Errorf("rahul's other certificate stopped working: %s", r.Combined())
	}
}
