// Package ha tests kcsr scaled out: three `kcsr server` replicas over a three-member etcd
// cluster (real etcd processes, built by hack/build-kube.sh), with the controllers
// leader-elected on a Lease, under a steady load of CSRs, while the leader replica and an
// etcd member are killed with SIGKILL.
package ha

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/test/e2e/framework"
)

const signerName = "kubernetes.io/kube-apiserver-client"

// loadPolicy approves the load's CSRs (CN load-*), as a policy would approve a team's.
const loadPolicy = `apiVersion: kcsr.dev/v1alpha1
kind: ApprovalPolicy
metadata:
  name: load
spec:
  signerNames: [kubernetes.io/kube-apiserver-client]
  match: request.subject.commonName.startsWith("load-")
  rules:
  - name: short-lived
    expression: request.expirationSeconds > 0 && request.expirationSeconds <= 3600
  action: Approve
`

// TestFailover is issue 9's acceptance: under a steady load of CSR creation with
// auto-approval, kill -9 the leader replica, then one etcd member. Afterwards every CSR
// whose create was acknowledged exists, every approved one is issued exactly once with one
// inventory record, no serial is used twice, a revocation made through one replica is
// enforced by every replica, and the metrics add up.
func TestFailover(t *testing.T) {
	// Clients authenticate to etcd with TLS certificates, as in production.
	etcd := framework.StartEtcdCluster(t, 3, true)
	leaseArgs := append(etcd.ServerArgs(),
		"--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms")

	// The replicas share the CA: the first one creates it, the others get a copy of its
	// PKI directory (an operator would distribute it as a secret, or use an HSM).
	first := framework.StartServer(t, "", leaseArgs...)
	replicas := []*framework.Server{first}
	for range 2 {
		dataDir := filepath.Join(t.TempDir(), "data")
		framework.CopyPKI(t, first.DataDir, dataDir)
		replicas = append(replicas, framework.StartServer(t, dataDir, leaseArgs...))
	}
	framework.MustKubectl(t, first.Kubeconfig, "apply", "-f", framework.WriteFile(t, t.TempDir(), "policy.yaml", loadPolicy))
	// A replica that made its own CA is refused (through etcd's TLS, too).
	stray := framework.Run(t, "", framework.Binary(t), append([]string{"server", "--data-dir", filepath.Join(t.TempDir(), "stray"), "--secure-port", fmt.Sprint(framework.FreePort(t))}, leaseArgs...)...)
	if stray.ExitCode == 0 || !strings.Contains(stray.Stderr, "another cluster CA") {
		t.Errorf("a replica with its own CA: exit %d\n%s", stray.ExitCode, stray.Stderr)
	}

	leader := func() int {
		for i, r := range replicas {
			if !r.Running() {
				continue
			}
			if strings.Contains(metricsOf(t, r), `kcsr_leader_is_leader{lease="kube-system/kcsr-controllers"} 1`) {
				return i
			}
		}
		return -1
	}
	framework.Eventually(t, 30*time.Second, "a leader", func() bool { return leader() >= 0 })

	// The load: workers create CSRs round-robin over the replicas that are up; a create is
	// acknowledged when a replica answered 201.
	ctx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	clients := make([]kubernetes.Interface, len(replicas))
	for i, r := range replicas {
		clients[i] = clientFor(t, r.Kubeconfig)
	}
	var (
		mu           sync.Mutex
		acknowledged []string
		refused      int
		seq          int
	)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ticker := time.NewTicker(200 * time.Millisecond) // ~20 CSR/s in all
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.C:
				}
				mu.Lock()
				seq++
				n := seq
				mu.Unlock()
				name := fmt.Sprintf("load-%05d", n)
				replica := (n + w) % len(replicas)
				if !replicas[replica].Running() {
					replica = (replica + 1) % len(replicas)
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := clients[replica].CertificatesV1().CertificateSigningRequests().Create(cctx, newCSR(t, name), metav1.CreateOptions{})
				cancel()
				mu.Lock()
				if err == nil {
					acknowledged = append(acknowledged, name)
				} else {
					refused++
				}
				mu.Unlock()
			}
		}()
	}

	time.Sleep(6 * time.Second)
	old := leader()
	replicas[old].Kill()
	killedAt := time.Now()
	t.Logf("killed the leader, replica %d", old)
	framework.Eventually(t, 30*time.Second, "another replica to lead", func() bool {
		l := leader()
		return l >= 0 && l != old
	})
	t.Logf("handover after %s", time.Since(killedAt).Round(100*time.Millisecond))

	time.Sleep(4 * time.Second)
	etcd.Members[0].Kill()
	t.Logf("killed etcd member %s", etcd.Members[0].Name)
	time.Sleep(6 * time.Second)
	stopLoad()
	wg.Wait()

	// Let the controllers finish, then check through a surviving replica.
	var survivor *framework.Server
	for _, r := range replicas {
		if r.Running() {
			survivor = r
		}
	}
	kc := survivor.Kubeconfig
	client := clientFor(t, kc)
	mu.Lock()
	names := append([]string(nil), acknowledged...)
	mu.Unlock()
	if len(names) < 50 {
		t.Fatalf("only %d CSRs acknowledged (%d refused): the load did not run", len(names), refused)
	}
	var csrs map[string]*certificatesv1.CertificateSigningRequest
	framework.Eventually(t, 60*time.Second, "every acknowledged CSR to be issued", func() bool {
		list, err := client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false
		}
		csrs = map[string]*certificatesv1.CertificateSigningRequest{}
		for i := range list.Items {
			csrs[list.Items[i].Name] = &list.Items[i]
		}
		for _, n := range names {
			if c := csrs[n]; c == nil || len(c.Status.Certificate) == 0 {
				return false
			}
		}
		return true
	})

	kcsr, err := kcsrclient.NewForConfig(restConfig(t, kc))
	if err != nil {
		t.Fatal(err)
	}
	records, err := kcsr.KcsrV1alpha1().IssuedCertificates().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recordsByCSR := map[string]int{}
	serials := map[string]bool{}
	for _, r := range records.Items {
		recordsByCSR[r.Spec.CSRName]++
		if serials[r.Spec.SerialNumber] {
			t.Errorf("serial %s used twice", r.Spec.SerialNumber)
		}
		serials[r.Spec.SerialNumber] = true
		if c := csrs[r.Spec.CSRName]; c != nil && string(c.Status.Certificate) != string(r.Spec.Certificate) {
			t.Errorf("%s: the CSR's certificate is not its inventory record's", r.Spec.CSRName)
		}
	}
	missing, approved, issued := 0, 0, 0
	for _, n := range names {
		c := csrs[n]
		if c == nil {
			missing++
			t.Errorf("acknowledged CSR %s is gone", n)
			continue
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == certificatesv1.CertificateApproved {
				approved++
			}
		}
		if len(c.Status.Certificate) > 0 {
			issued++
		}
		if recordsByCSR[n] != 1 {
			t.Errorf("%s has %d inventory records, want 1", n, recordsByCSR[n])
		}
	}
	t.Logf("acknowledged %d (%d got an error while a replica or member was down), stored %d, approved %d, issued %d, inventory records %d, distinct serials %d",
		len(names), refused, len(names)-missing, approved, issued, len(records.Items), len(serials))

	// Every surviving replica enforces a revocation made through another.
	dir := t.TempDir()
	req := framework.GoCSR(t, dir, "load-rahul", "load-rahul", []string{"load"}, nil, nil)
	framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "rahul.yaml", framework.CSRManifest("load-rahul", req, signerName, 3600, "digital signature", "client auth")))
	var certB64 string
	framework.Eventually(t, 30*time.Second, "load-rahul to be issued", func() bool {
		certB64 = framework.MustKubectl(t, kc, "get", "csr", "load-rahul", "-o", "jsonpath={.status.certificate}")
		return certB64 != ""
	})
	certPEM, err := base64.StdEncoding.DecodeString(certB64)
	if err != nil {
		t.Fatal(err)
	}
	certPath := framework.WriteFile(t, dir, "load-rahul.crt", string(certPEM))
	var rahul []string
	for i, r := range replicas {
		if r.Running() {
			rahul = append(rahul, r.UserKubeconfig(t, dir, fmt.Sprintf("rahul-%d", i), "--client-certificate", certPath, "--client-key", filepath.Join(dir, "load-rahul.key")))
		}
	}
	for _, k := range rahul {
		if r := framework.Kubectl(t, k, "auth", "whoami"); r.ExitCode != 0 {
			t.Fatalf("before revocation: %s", r.Combined())
		}
	}
	if r := framework.Run(t, "", framework.Binary(t), "revoke", "--csr", "load-rahul", "--reason", "keyCompromise", "--kubeconfig", kc); r.ExitCode != 0 {
		t.Fatalf("kcsr revoke: %s", r.Combined())
	}
	for i, k := range rahul {
		framework.Eventually(t, 5*time.Second, fmt.Sprintf("replica %d to refuse the revoked certificate", i), func() bool {
			r := framework.Kubectl(t, k, "auth", "whoami")
			return r.ExitCode != 0 && strings.Contains(r.Stderr, "Unauthorized")
		})
	}

	// The metrics of the surviving replicas tell the same story (b).
	m := metricsOf(t, survivor)
	state := func(s string) int {
		re := regexp.MustCompile(`kcsr_csrs\{signer_name="` + regexp.QuoteMeta(signerName) + `",state="` + s + `"\} (\d+)`)
		match := re.FindStringSubmatch(m)
		if match == nil {
			t.Fatalf("no kcsr_csrs state %s in /metrics", s)
		}
		v, _ := strconv.Atoi(match[1])
		return v
	}
	stored, pending, appr, denied, iss, failed := state("stored"), state("pending"), state("approved"), state("denied"), state("issued"), state("failed")
	t.Logf("metrics: stored %d = approved %d + denied %d + pending %d; issued %d = approved %d - failed %d", stored, appr, denied, pending, iss, appr, failed)
	if stored != appr+denied+pending {
		t.Errorf("kcsr_csrs: stored %d != approved %d + denied %d + pending %d", stored, appr, denied, pending)
	}
	if iss != appr-failed {
		t.Errorf("kcsr_csrs: issued %d != approved %d - failed %d", iss, appr, failed)
	}
	// A create whose answer was lost (the replica or the etcd member died after the write)
	// may be stored although the client saw an error: between the two counts.
	// (+1: load-rahul, the revocation check's CSR.)
	if stored < len(names)+1 || stored > len(names)+refused+1 {
		t.Errorf("kcsr_csrs stored %d, but %d creates were acknowledged (+1) and %d got an error", stored, len(names), refused)
	}
}

// metricsOf is the replica's /metrics, read with its admin kubeconfig.
func metricsOf(t *testing.T, s *framework.Server) string {
	t.Helper()
	r := framework.Kubectl(t, s.Kubeconfig, "get", "--raw", "/metrics")
	return r.Stdout
}

func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(restConfig(t, kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	return cfg
}

func newCSR(t *testing.T, name string) *certificatesv1.CertificateSigningRequest {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Error(err)
		return nil
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name, Organization: []string{"load"}}}, key)
	if err != nil {
		t.Error(err)
		return nil
	}
	expiration := int32(3600)
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName:        signerName,
			ExpirationSeconds: &expiration,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
}
