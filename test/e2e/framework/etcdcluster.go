package framework

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pki"
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
	client    *http.Client
	*Process
}

// EtcdCluster is an n-member etcd cluster on loopback ports.
type EtcdCluster struct {
	Members []*EtcdMember
	// With TLS: the CA of the members' serving certificates, and a client certificate
	// they accept (kcsr server's --etcd-cafile, --etcd-certfile, --etcd-keyfile).
	CAFile, CertFile, KeyFile string
	client                    *http.Client
}

// StartEtcdCluster starts n etcd members forming one cluster and waits until every member
// is healthy. With tlsClients, clients must use TLS and present a certificate of the
// cluster's CA (as in production); peers talk plain HTTP on loopback. The processes are
// killed when the test ends.
func StartEtcdCluster(t testing.TB, n int, tlsClients bool) *EtcdCluster {
	t.Helper()
	bin := filepath.Join(KubeBinDir(t, "etcd"), "etcd")
	dir := t.TempDir()
	c := &EtcdCluster{client: http.DefaultClient}
	scheme := "http"
	var tlsArgs []string
	if tlsClients {
		p, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "pki")})
		if err != nil {
			t.Fatal(err)
		}
		scheme = "https"
		c.CAFile, c.CertFile, c.KeyFile = p.Path(pki.CACertFile), p.Path(pki.AdminCertFile), p.Path(pki.AdminKeyFile)
		tlsArgs = []string{"--cert-file", p.Path(pki.ServingCertFile), "--key-file", p.Path(pki.ServingKeyFile),
			"--client-cert-auth", "--trusted-ca-file", c.CAFile}
		c.client = tlsClient(t, c.CAFile, c.CertFile, c.KeyFile)
	}
	var initial []string
	for i := range n {
		m := &EtcdMember{
			Name:      fmt.Sprintf("etcd-%d", i),
			ClientURL: fmt.Sprintf("%s://127.0.0.1:%d", scheme, FreePort(t)),
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
		m.args = append(m.args, tlsArgs...)
		m.client = c.client
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
		resp, err := m.client.Get(m.ClientURL + "/health")
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

// ServerArgs are kcsr server's flags for this cluster: --etcd-servers, and with TLS the
// CA and client certificate.
func (c *EtcdCluster) ServerArgs() []string {
	args := []string{"--etcd-servers", c.ClientURLs()}
	if c.CAFile != "" {
		args = append(args, "--etcd-cafile", c.CAFile, "--etcd-certfile", c.CertFile, "--etcd-keyfile", c.KeyFile)
	}
	return args
}

func tlsClient(t testing.TB, caFile, certFile, keyFile string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
}

// ClientURLs is the --etcd-servers value for the cluster.
func (c *EtcdCluster) ClientURLs() string {
	var urls []string
	for _, m := range c.Members {
		urls = append(urls, m.ClientURL)
	}
	return strings.Join(urls, ",")
}
