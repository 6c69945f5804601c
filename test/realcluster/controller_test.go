// Package realcluster runs kcsr beside a real Kubernetes control plane (kube-apiserver and
// kube-controller-manager v1.37.2, built by hack/build-kube.sh): `kcsr controller` signing a
// custom signerName on the cluster with an HSM-held CA and leader election, the revocation
// webhook installed in kube-apiserver's authorization chain, and the kcsr CLI used against
// kube-apiserver.
package realcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/ca/pkcs11/softhsmtest"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

const webhookSigner = "example.com/internal-webhook"

// TestControllerOnRealCluster is issue 6's acceptance (b): kube-controller-manager signs the
// built-in signers only; two `kcsr controller` replicas with leader election sign
// example.com/internal-webhook with a CA whose key is in a SoftHSM2 token. Killing the
// leader (-9) hands over to the other replica, and no CSR is signed twice.
func TestControllerOnRealCluster(t *testing.T) {
	cluster := framework.StartKubeCluster(t, framework.KubeOptions{})
	kc := cluster.API.Kubeconfig
	dir := t.TempDir()

	// The webhook CA: key generated here, put into the token, certificate kept as a file.
	now := time.Now()
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("webhook-hsm-ca"), testkit.ValidBetween(now.Add(-time.Hour), now.Add(30*24*time.Hour)))
	module, uri := softhsmtest.NewToken(t, ca.KeyPEM)
	caFile := framework.WriteFile(t, dir, "webhook-ca.crt", string(ca.CertPEM))
	config := framework.WriteFile(t, dir, "signers.yaml", fmt.Sprintf(`apiVersion: kcsr.dev/v1alpha1
kind: SignerConfiguration
signers:
- signerName: %s
  ca:
    pkcs11: {modulePath: %s, uri: %q, certFile: %s}
  maxDuration: 48h
  rules:
    allowedUsages: [digital signature, key encipherment, server auth]
    requiredUsages: [server auth]
    dnsNames: ["*.default.svc"]
`, webhookSigner, module, uri, caFile))

	args := []string{"controller", "--kubeconfig", kc, "--signer-config", config,
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms"}
	metricsAddrs := []string{fmt.Sprintf("127.0.0.1:%d", framework.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", framework.FreePort(t))}
	replicas := []*framework.Process{
		framework.StartProcess(t, framework.Binary(t), append(args, "--metrics-bind-address", metricsAddrs[0])...),
		framework.StartProcess(t, framework.Binary(t), append(args, "--metrics-bind-address", metricsAddrs[1])...),
	}
	identities := make([]string, len(replicas))
	for i, p := range replicas {
		identities[i] = waitIdentity(t, p)
	}

	leader := func() int {
		holder := strings.TrimSpace(framework.Kubectl(t, kc, "get", "lease", "-n", "kube-system", "kcsr-controllers", "-o", "jsonpath={.spec.holderIdentity}").Stdout)
		for i, id := range identities {
			if id == holder {
				return i
			}
		}
		return -1
	}
	framework.Eventually(t, 30*time.Second, "a replica to hold the Lease", func() bool { return leader() >= 0 })
	first := leader()

	// A first batch, signed by the leader.
	batch := func(prefix string, n int) []string {
		var names []string
		for i := range n {
			name := fmt.Sprintf("%s-%d", prefix, i)
			req := framework.GoCSR(t, dir, name, name+".default.svc", nil, []string{name + ".default.svc"}, nil)
			framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, webhookSigner, 3600, "digital signature", "server auth")))
			names = append(names, name)
		}
		framework.MustKubectl(t, kc, append([]string{"certificate", "approve"}, names...)...)
		return names
	}
	names := batch("before", 5)
	waitAllIssued(t, kc, names, 30*time.Second)

	// The certificate chains to the HSM CA; kube-controller-manager did not touch it.
	certPath := framework.WriteFile(t, dir, "before-0.crt", string(framework.IssuedCertificate(t, kc, "before-0")))
	if out := framework.Openssl(t, dir, "verify", "-CAfile", caFile, certPath); !strings.Contains(out, "OK") {
		t.Errorf("openssl verify: %s", out)
	}

	// Kill the leader while a second batch waits for it.
	more := batch("during", 10)
	replicas[first].Signal(syscall.SIGKILL)
	replicas[first].Wait(10 * time.Second)
	killedAt := time.Now()
	framework.Eventually(t, 30*time.Second, "the other replica to take the Lease", func() bool {
		l := leader()
		return l >= 0 && l != first
	})
	t.Logf("handover after %s", time.Since(killedAt).Round(100*time.Millisecond))
	// The new leader says so on /metrics.
	framework.Eventually(t, 10*time.Second, "kcsr_leader_is_leader 1 on the new leader", func() bool {
		resp, err := http.Get("http://" + metricsAddrs[1-first] + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `kcsr_leader_is_leader{lease="kube-system/kcsr-controllers"} 1`)
	})
	names = append(names, more...)
	names = append(names, batch("after", 5)...)
	waitAllIssued(t, kc, names, 60*time.Second)

	// Exactly once: one inventory record per CSR, whose certificate is the CSR's; no serial
	// twice; no CSR reported issued by both replicas.
	var records struct {
		Items []struct {
			Spec struct {
				SerialNumber string `json:"serialNumber"`
				CSRName      string `json:"csrName"`
				Certificate  []byte `json:"certificate"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "issuedcertificates", "-o", "json")), &records); err != nil {
		t.Fatal(err)
	}
	byCSR := map[string]int{}
	serials := map[string]bool{}
	for _, r := range records.Items {
		byCSR[r.Spec.CSRName]++
		if serials[r.Spec.SerialNumber] {
			t.Errorf("serial %s recorded twice", r.Spec.SerialNumber)
		}
		serials[r.Spec.SerialNumber] = true
		onCSR := framework.IssuedCertificate(t, kc, r.Spec.CSRName)
		if string(onCSR) != string(r.Spec.Certificate) {
			t.Errorf("%s: the CSR's certificate is not the recorded one", r.Spec.CSRName)
		}
	}
	issuedLogs := map[string]int{}
	issuedRE := regexp.MustCompile(`"Issued certificate" csr="([^"]+)"`)
	for _, p := range replicas {
		for _, m := range issuedRE.FindAllStringSubmatch(p.Stderr(), -1) {
			issuedLogs[m[1]]++
		}
	}
	for _, name := range names {
		if byCSR[name] != 1 {
			t.Errorf("%s has %d inventory records, want 1", name, byCSR[name])
		}
		if issuedLogs[name] > 1 {
			t.Errorf("%s was issued %d times", name, issuedLogs[name])
		}
	}
	t.Logf("%d CSRs, %d inventory records, %d distinct serials", len(names), len(records.Items), len(serials))
	if len(records.Items) != len(names) {
		t.Errorf("%d inventory records for %d CSRs", len(records.Items), len(names))
	}

	// kube-controller-manager still signs the built-in signers.
	req := framework.GoCSR(t, dir, "builtin", "alice", []string{"dev"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "builtin.yaml", framework.CSRManifest("builtin", req, "kubernetes.io/kube-apiserver-client", 3600, "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "builtin")
	waitAllIssued(t, kc, []string{"builtin"}, 30*time.Second)
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.csrName=builtin", "-o", "name"); got != "" {
		t.Errorf("kcsr controller recorded a certificate of kube-controller-manager's signer: %s", got)
	}
}

// waitIdentity waits for the controller's start line and returns its Lease identity.
func waitIdentity(t *testing.T, p *framework.Process) string {
	t.Helper()
	re := regexp.MustCompile(`kcsr controller \S+ serving .* as (\S+)`)
	var id string
	framework.Eventually(t, 60*time.Second, "kcsr controller to start", func() bool {
		if m := re.FindStringSubmatch(p.Stdout()); m != nil {
			id = m[1]
			return true
		}
		if p.Exited() {
			t.Fatalf("kcsr controller exited:\n%s\n%s", p.Stdout(), p.Stderr())
		}
		return false
	})
	return id
}

func waitAllIssued(t *testing.T, kc string, names []string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var list certificatesv1.CertificateSigningRequestList
		if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "csr", "-o", "json")), &list); err != nil {
			t.Fatal(err)
		}
		issued := map[string]bool{}
		for _, c := range list.Items {
			if len(c.Status.Certificate) > 0 {
				issued[c.Name] = true
			}
			for _, cond := range c.Status.Conditions {
				if cond.Type == certificatesv1.CertificateFailed {
					t.Fatalf("%s failed: %s", c.Name, cond.Message)
				}
			}
		}
		var missing []string
		for _, n := range names {
			if !issued[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not issued after %s: %v", timeout, missing)
		case <-time.After(300 * time.Millisecond):
		}
	}
}
