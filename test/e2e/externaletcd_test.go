package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestExternalEtcd: with --etcd-servers, kcsr stores nothing in its data directory but
// its PKI: a second server with a copy of the first one's PKI and a fresh data directory,
// pointed at the same etcd, sees the same CSRs. One with its own, different CA is refused
// at start: replicas must share the cluster CA.
func TestExternalEtcd(t *testing.T) {
	clientURL := startEtcd(t)
	dir := t.TempDir()
	first := framework.StartServer(t, "", "--etcd-servers", clientURL)
	req := framework.GoCSR(t, dir, "shared", "shared", nil, nil, nil)
	framework.MustKubectl(t, first.Kubeconfig, "create", "-f", framework.WriteFile(t, dir, "csr.yaml", framework.CSRManifest("shared", req, clientSigner, 3600, "client auth")))
	first.Stop()

	other := framework.Run(t, "", framework.Binary(t), "server", "--data-dir", filepath.Join(dir, "other"), "--secure-port", fmt.Sprint(framework.FreePort(t)), "--etcd-servers", clientURL)
	if other.ExitCode == 0 || !strings.Contains(other.Stderr, "this etcd already serves kcsr with another cluster CA") || !strings.Contains(other.Stderr, "Copy the pki directory of a running replica") {
		t.Errorf("a server with another CA on the same etcd: exit %d\n%s", other.ExitCode, other.Stderr)
	}

	dataDir := filepath.Join(dir, "second")
	framework.CopyPKI(t, first.DataDir, dataDir)
	second := framework.StartServer(t, dataDir, "--etcd-servers", clientURL)
	if got := framework.MustKubectl(t, second.Kubeconfig, "get", "csr", "shared", "-o", "jsonpath={.spec.username}"); got != "kcsr-admin" {
		t.Fatalf("the second server does not see the first one's CSR: %q", got)
	}
	if matches, _ := filepath.Glob(filepath.Join(second.DataDir, "etcd")); len(matches) != 0 {
		t.Errorf("an embedded etcd was started although --etcd-servers was given")
	}
}

// startEtcd runs a real single-member etcd on free loopback ports for the test.
func startEtcd(t *testing.T) string {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Logger, cfg.LogLevel = "zap", "fatal" // its shutdown logs expected errors at error level
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", framework.FreePort(t))}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", framework.FreePort(t))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd not ready")
	}
	return client.String()
}
