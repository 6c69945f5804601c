package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/test/e2e/framework"
)

const controllersLease = `kcsr_leader_is_leader{lease="kube-system/kcsr-controllers"}`

// TestLeaderElection: two replicas over one etcd (issue 9). One holds the
// kube-system/kcsr-controllers Lease and runs the approver and signer for both; a CSR
// created through the follower is approved and issued by the leader. When the leader stops
// it releases the Lease, so the follower takes over well within the 15s lease duration.
func TestLeaderElection(t *testing.T) {
	etcd := startEtcd(t)
	dir := t.TempDir()
	first := framework.StartServer(t, "", "--etcd-servers", etcd)
	// The second replica shares the first one's PKI: the same CA signs and verifies.
	secondDir := filepath.Join(t.TempDir(), "data")
	framework.CopyPKI(t, first.DataDir, secondDir)
	second := framework.StartServer(t, secondDir, "--etcd-servers", etcd)
	kc := second.Kubeconfig

	rows := framework.TableRows(framework.MustKubectl(t, kc, "get", "lease", "-n", "kube-system", "kcsr-controllers"))
	if len(rows) != 2 || len(rows[1]) != 3 || rows[0][1] != "HOLDER" {
		t.Fatalf("kubectl get lease: want one row NAME HOLDER AGE, got %v", rows)
	}
	leader := rows[1][1]
	host, _ := os.Hostname()
	if !strings.HasPrefix(leader, host+"_") {
		t.Errorf("holder %q, want <hostname>_<random>", leader)
	}
	if got := leaderGauge(t, first.Kubeconfig); got != "1" {
		t.Errorf("first replica: %s = %q, want 1", controllersLease, got)
	}
	if got := leaderGauge(t, kc); got != "0" {
		t.Errorf("second replica: %s = %q, want 0", controllersLease, got)
	}

	// Through the follower; decided and signed by the leader.
	framework.MustKubectl(t, kc, "apply", "-f", framework.WriteFile(t, dir, "policy.yaml", framework.ApprovalPolicy("approve-everything", "kubernetes.io/kube-apiserver-client", "Approve", "")))
	createCSR := func(name string) {
		t.Helper()
		req := framework.GoCSR(t, dir, name, name, nil, nil, nil)
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".yaml", framework.CSRManifest(name, req, clientSigner, 3600, "client auth")))
	}
	createCSR("via-follower")
	framework.WaitIssued(t, kc, "via-follower")
	if strings.Contains(second.Stderr(), "Became leader") {
		t.Errorf("the follower ran the controllers:\n%s", tailLines(second.Stderr(), 20))
	}

	// The leader stops cleanly: it releases the Lease and the follower takes it at its next
	// retry (2s to 4.4s), not after the 15s lease duration.
	first.Stop()
	stopped := time.Now()
	framework.Eventually(t, 10*time.Second, "the follower to take the lease", func() bool {
		holder := framework.MustKubectl(t, kc, "get", "lease", "-n", "kube-system", "kcsr-controllers", "-o", "jsonpath={.spec.holderIdentity}")
		return holder != "" && holder != leader
	})
	t.Logf("the follower took the lease %s after the leader stopped", time.Since(stopped).Round(100*time.Millisecond))
	if got := framework.MustKubectl(t, kc, "get", "lease", "-n", "kube-system", "kcsr-controllers", "-o", "jsonpath={.spec.leaseTransitions}"); got != "1" {
		t.Errorf("leaseTransitions = %q, want 1", got)
	}
	if got := leaderGauge(t, kc); got != "1" {
		t.Errorf("second replica after the takeover: %s = %q, want 1", controllersLease, got)
	}
	createCSR("after-failover")
	framework.WaitIssued(t, kc, "after-failover")
}

// leaderGauge returns the value of kcsr_leader_is_leader for the controllers' Lease.
func leaderGauge(t *testing.T, kubeconfig string) string {
	t.Helper()
	for _, line := range strings.Split(framework.MustKubectl(t, kubeconfig, "get", "--raw", "/metrics"), "\n") {
		if value, ok := strings.CutPrefix(line, controllersLease+" "); ok {
			return value
		}
	}
	return "<missing>"
}
