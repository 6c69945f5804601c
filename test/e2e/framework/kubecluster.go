package framework

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/pki"
)

// KubeVersion is the Kubernetes release hack/build-kube.sh builds and kcsr is compared with.
const KubeVersion = "v1.37.2"

// KubeBinDir is where hack/build-kube.sh put etcd, kube-apiserver and
// kube-controller-manager (names: the ones needed, default all three): $KCSR_KUBE_DIR/bin, or .cache/kube/<version>/bin in the
// repository. When the binaries are missing the test is skipped, except in CI (CI=true),
// where hack/test.sh builds them first and a missing binary is a failure.
func KubeBinDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := os.Getenv("KCSR_KUBE_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), ".cache", "kube", KubeVersion)
	}
	bin := filepath.Join(dir, "bin")
	if len(names) == 0 {
		names = []string{"etcd", "kube-apiserver", "kube-controller-manager"}
	}
	for _, name := range names {
		RequireBuilt(t, filepath.Join(bin, name), "hack/build-kube.sh", "Kubernetes "+KubeVersion)
	}
	return bin
}

// RequireBuilt makes sure path, a program one of the hack/build-*.sh scripts (script)
// builds from the Go module proxy, is there: missing, the test fails in CI (CI=true),
// where hack/test.sh builds it first, and is skipped elsewhere.
func RequireBuilt(t testing.TB, path, script, what string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := fmt.Sprintf("%s is missing: run %s (builds %s from the Go module proxy)", path, script, what)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// KubeOptions shapes a real Kubernetes control plane.
type KubeOptions struct {
	// Controllers is kube-controller-manager's --controllers; empty means the three CSR
	// controllers: csrsigning, csrapproving and csrcleaner. "-" runs no
	// kube-controller-manager at all.
	Controllers string
	// APIServerArgs and ControllerManagerArgs are appended to each one's flags.
	APIServerArgs         []string
	ControllerManagerArgs []string
	// TokenAuthFile is kube-apiserver's --token-auth-file, when set.
	TokenAuthFile string
	// ExtraClientCAs are CA certificate files trusted for client certificates besides the
	// cluster CA (e.g. a kcsr server's CA).
	ExtraClientCAs []string
	// AuthorizationConfig is an --authorization-config file used instead of
	// --authorization-mode=Node,RBAC.
	AuthorizationConfig string
}

// KubeCluster is a real etcd + kube-apiserver + kube-controller-manager on loopback ports.
// Its API field has the same layout as a kcsr server (DataDir/pki/ca.crt and ca.key: the
// cluster CA that signs client certificates and that kube-controller-manager signs with;
// DataDir/admin.kubeconfig: a system:masters client certificate), so the helpers for users
// and kubeconfigs work against both.
type KubeCluster struct {
	API  *Server
	Etcd *Process
	Kube *Process // kube-apiserver
	KCM  *Process // kube-controller-manager; nil with Controllers "-"
	bin  string
	t    testing.TB

	kcmArgs []string
}

// StartKubeCluster starts etcd, kube-apiserver and (unless opts.Controllers is "-")
// kube-controller-manager, and waits until the API server is ready. Everything is stopped
// when the test ends.
func StartKubeCluster(t testing.TB, opts KubeOptions) *KubeCluster {
	t.Helper()
	need := []string{"etcd", "kube-apiserver", "kube-controller-manager"}
	if opts.Controllers == "-" {
		need = need[:2]
	}
	bin := KubeBinDir(t, need...)
	dir := filepath.Join(t.TempDir(), "kube")
	p, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		t.Fatal(err)
	}
	saKey := filepath.Join(dir, "pki", "sa.key")
	writeECKey(t, saKey)

	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	c := &KubeCluster{bin: bin, t: t}
	c.Etcd = StartProcess(t, filepath.Join(bin, "etcd"),
		"--name", "kube", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdClient, "--advertise-client-urls", etcdClient,
		"--listen-peer-urls", etcdPeer, "--initial-advertise-peer-urls", etcdPeer,
		"--initial-cluster", "kube="+etcdPeer, "--log-level", "error")

	port := FreePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	args := []string{
		"--etcd-servers", etcdClient,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(port),
		// On loopback there is no kubernetes Service endpoint to reconcile.
		"--endpoint-reconciler-type", "none",
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--tls-cert-file", p.Path(pki.ServingCertFile), "--tls-private-key-file", p.Path(pki.ServingKeyFile),
		"--client-ca-file", clientCAs(t, dir, p.Path(pki.CACertFile), opts.ExtraClientCAs),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey,
		"--enable-bootstrap-token-auth",
		"--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--v", "0",
	}
	if opts.AuthorizationConfig != "" {
		args = append(args, "--authorization-config", opts.AuthorizationConfig)
	} else {
		args = append(args, "--authorization-mode", "Node,RBAC")
	}
	if opts.TokenAuthFile != "" {
		args = append(args, "--token-auth-file", opts.TokenAuthFile)
	}
	args = append(args, opts.APIServerArgs...)
	c.Kube = StartProcess(t, filepath.Join(bin, "kube-apiserver"), args...)
	c.API = &Server{t: t, DataDir: dir, Port: port, URL: url, Kubeconfig: filepath.Join(dir, "admin.kubeconfig")}
	if err := p.WriteAdminKubeconfig(c.API.Kubeconfig, url); err != nil {
		t.Fatal(err)
	}
	c.waitReady(t, p)

	if opts.Controllers != "-" {
		controllers := opts.Controllers
		if controllers == "" {
			controllers = "csrsigning,csrapproving,csrcleaner"
		}
		c.kcmArgs = append([]string{
			"--kubeconfig", c.API.Kubeconfig,
			"--authentication-kubeconfig", c.API.Kubeconfig,
			"--authorization-kubeconfig", c.API.Kubeconfig,
			"--controllers", controllers,
			"--cluster-signing-cert-file", p.Path(pki.CACertFile),
			"--cluster-signing-key-file", p.Path(pki.CAKeyFile),
			"--use-service-account-credentials=false",
			"--leader-elect=false",
			"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(FreePort(t)),
			"--cert-dir", filepath.Join(dir, "kcm-certs"),
			"--v", "0",
		}, opts.ControllerManagerArgs...)
		c.KCM = StartProcess(t, filepath.Join(bin, "kube-controller-manager"), c.kcmArgs...)
	}
	return c
}

// waitReady polls kube-apiserver's /readyz with the admin certificate.
func (c *KubeCluster) waitReady(t testing.TB, p *pki.PKI) {
	t.Helper()
	client := c.API.HTTPClient(t, p.Path(pki.AdminCertFile), p.Path(pki.AdminKeyFile))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(c.API.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-c.Kube.done:
			t.Fatalf("kube-apiserver exited before it was ready:\n%s", tail(c.Kube.Stderr(), 40))
		case <-c.Etcd.done:
			t.Fatalf("etcd exited:\n%s", tail(c.Etcd.Stderr(), 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 2m (last error %v):\n%s", err, tail(c.Kube.Stderr(), 40))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Logs is the tail of every component's stderr, for a failing test's message.
func (c *KubeCluster) Logs() string {
	var b strings.Builder
	for _, p := range []struct {
		name string
		p    *Process
	}{{"kube-apiserver", c.Kube}, {"kube-controller-manager", c.KCM}, {"etcd", c.Etcd}} {
		if p.p != nil {
			fmt.Fprintf(&b, "--- %s:\n%s\n", p.name, tail(p.p.Stderr(), 30))
		}
	}
	return b.String()
}

// clientCAs is the cluster CA, or a bundle of it and the extra CAs.
func clientCAs(t testing.TB, dir, clusterCA string, extra []string) string {
	t.Helper()
	if len(extra) == 0 {
		return clusterCA
	}
	var bundle []byte
	for _, f := range append([]string{clusterCA}, extra...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		bundle = append(bundle, b...)
	}
	path := filepath.Join(dir, "pki", "client-ca-bundle.crt")
	if err := os.WriteFile(path, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeECKey(t testing.TB, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// SEC 1 ("EC PRIVATE KEY"): kube-apiserver's --service-account-key-file reads no PKCS#8.
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
