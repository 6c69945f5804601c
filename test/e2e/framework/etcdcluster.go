package framework

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// EtcdMember is one member of an EtcdCluster, a real etcd process (the binary
// hack/build-kube.sh builds).
type EtcdMember struct {
	Name      string
	ClientURL string
	PeerURL   string
	args      []string
	bin       string
	t         testing.TB
	*Process
}

// EtcdCluster is an n-member etcd cluster on loopback ports.
type EtcdCluster struct {
	Members []*EtcdMember
}

// StartEtcdCluster starts n etcd members forming one cluster and waits until every member
// is healthy. The processes are killed when the test ends.
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	bin := filepath.Join(KubeBinDir(t, "etcd"), "etcd")
	dir := t.TempDir()
	c := &EtcdCluster{}
	var initial []string
	for i := range n {
		m := &EtcdMember{
			Name:      fmt.Sprintf("etcd-%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
			PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
			bin:       bin,
			t:         t,
		}
		initial = append(initial, m.Name+"="+m.PeerURL)
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = []string{
			"--name", m.Name, "--data-dir", filepath.Join(dir, m.Name),
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "kcsr-test",
			"--log-level", "error",
		}
		m.Start()
	}
	for _, m := range c.Members {
		m.WaitHealthy(60 * time.Second)
	}
	return c
}

// Start (re)starts the member with its data directory.
func (m *EtcdMember) Start() {
	m.t.Helper()
	m.Process = StartProcess(m.t, m.bin, m.args...)
}

// WaitHealthy waits until the member answers /health with health true.
func (m *EtcdMember) WaitHealthy(timeout time.Duration) {
	m.t.Helper()
	Eventually(m.t, timeout, m.Name+" to be healthy", func() bool {
		if m.Exited() {
			m.t.Fatalf("%s exited:\n%s", m.Name, tail(m.Stderr(), 20))
		}
		resp, err := http.Get(m.ClientURL + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Kill sends SIGKILL to the member and waits for it to be gone.
func (m *EtcdMember) Kill() {
	m.t.Helper()
	_ = m.cmd.Process.Kill()
	<-m.done
}

// ClientURLs is the --etcd-servers value for the cluster.
func (c *EtcdCluster) ClientURLs() string {
	var urls []string
	for _, m := range c.Members {
		urls = append(urls, m.ClientURL)
	}
	return strings.Join(urls, ",")
}
