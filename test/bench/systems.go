package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/pki"
)

// Identities of the workers, the same on both systems: static tokens (kube-apiserver's CSV
// format, --token-auth-file on both servers), generated per run.
const (
	bootstrapUser   = "system:bootstrap:abcdef" // a kubelet's bootstrap identity
	bootstrapGroup  = "system:bootstrappers"
	policyUser      = "bench-client" // a person or service asking for its own client certificate
	policyGroup     = "kcsr-bench"
	protobufContent = "application/vnd.kubernetes.protobuf"
)

type tokens struct {
	Bootstrap, Policy string
	file              string
}

func newTokens(dir string) (tokens, error) {
	secret := func() string {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	t := tokens{Bootstrap: "abcdef." + secret(), Policy: "bench." + secret(), file: filepath.Join(dir, "tokens.csv")}
	csv := fmt.Sprintf("%s,%s,uid-bootstrap,%s\n%s,%s,uid-bench-client,%s\n", t.Bootstrap, bootstrapUser, bootstrapGroup, t.Policy, policyUser, policyGroup)
	return t, os.WriteFile(t.file, []byte(csv), 0o600)
}

// system is a control plane under test: kcsr server, or etcd + kube-apiserver +
// kube-controller-manager.
type system struct {
	name    string // "kcsr" or "kube"
	url     string
	caFile  string
	admin   string // kubeconfig of a system:masters client certificate
	etcdDir string // the etcd data directory, for the storage size
	procs   []*process
	tokens  tokens

	// kcsr only: how to start the same server again on the same data (cold start).
	kcsrBin  string
	kcsrArgs []string
	kcsrEnv  []string
	logDir   string
}

// cpu is each process's CPU time so far.
func (s *system) cpu() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, p := range s.procs {
		v, err := processCPU(p.pid())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		out[p.name] = v
	}
	return out, nil
}

// memory is each process's resident set now and its peak (VmHWM) since it started.
func (s *system) memory() (rss, peak map[string]int64, err error) {
	rss, peak = map[string]int64{}, map[string]int64{}
	for _, p := range s.procs {
		m, err := processMemory(p.pid())
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p.name, err)
		}
		rss[p.name], peak[p.name] = m.RSS, m.Peak
	}
	return rss, peak, nil
}

// alive returns an error naming the first process that has exited.
func (s *system) alive() error {
	for _, p := range s.procs {
		if p.exited() {
			return fmt.Errorf("%s exited:\n%s", p.name, p.tail(30))
		}
	}
	return nil
}

// stop ends the processes in reverse start order.
func (s *system) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop(60 * time.Second)
	}
}

func (s *system) logs() string {
	var b strings.Builder
	for _, p := range s.procs {
		b.WriteString(p.tail(20))
		b.WriteString("\n")
	}
	return b.String()
}

// config is a client configuration with no client-side rate limit, speaking protobuf
// (as kubelets and controllers do) unless json is set (kcsr's own types are JSON only).
func tune(cfg *rest.Config, json bool) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	cfg.UserAgent = "kcsr-bench"
	if !json {
		cfg.ContentType = protobufContent
		cfg.AcceptContentTypes = protobufContent + ",application/json"
	}
	return cfg
}

func (s *system) adminConfig(json bool) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.admin)
	if err != nil {
		return nil, err
	}
	return tune(cfg, json), nil
}

func (s *system) tokenConfig(token string) *rest.Config {
	return tune(&rest.Config{Host: s.url, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: s.caFile}}, false)
}

func (s *system) adminClient() (kubernetes.Interface, error) {
	cfg, err := s.adminConfig(false)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// startKcsr starts `kcsr server` on a fresh data directory.
func startKcsr(ctx context.Context, bin, work string, tok tokens, extra, env []string) (*system, error) {
	dataDir := filepath.Join(work, "kcsr-data")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &system{
		name:    "kcsr",
		url:     fmt.Sprintf("https://127.0.0.1:%d", port),
		caFile:  filepath.Join(dataDir, "pki", pki.CACertFile),
		admin:   filepath.Join(dataDir, "admin.kubeconfig"),
		etcdDir: filepath.Join(dataDir, "etcd"),
		tokens:  tok,
		kcsrBin: bin,
		kcsrArgs: append([]string{"server", "--data-dir", dataDir, "--secure-port", fmt.Sprint(port),
			"--token-auth-file", tok.file}, extra...),
		logDir:  work,
		kcsrEnv: env,
	}
	if _, err := s.startKcsrProcess(ctx, "kcsr"); err != nil {
		return nil, err
	}
	return s, s.setUp(ctx)
}

// startKcsrProcess starts (or restarts) kcsr server and waits until it says it is ready;
// it returns the time from exec to ready.
func (s *system) startKcsrProcess(ctx context.Context, logName string) (time.Duration, error) {
	p, err := startProcessEnv(s.logDir, logName, s.kcsrEnv, s.kcsrBin, s.kcsrArgs...)
	if err != nil {
		return 0, err
	}
	s.procs = []*process{p}
	ready, err := p.waitForOutput(ctx, "kcsr server is ready at ", 5*time.Minute)
	if err != nil {
		p.stop(10 * time.Second)
		return 0, err
	}
	return ready, nil
}

// startKube starts etcd, kube-apiserver and kube-controller-manager with the flags of the
// real-cluster test harness (test/e2e/framework/kubecluster.go), plus the static tokens
// and kube-controller-manager's client rate limits raised to kcmQPS.
func startKube(ctx context.Context, bin, work string, tok tokens, kcmQPS int) (s *system, err error) {
	dir := filepath.Join(work, "kube")
	p, err := pki.Ensure(pki.Options{Dir: filepath.Join(dir, "pki")})
	if err != nil {
		return nil, err
	}
	saKey := filepath.Join(dir, "pki", "sa.key")
	if err := writeECKey(saKey); err != nil {
		return nil, err
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	s = &system{
		name:    "kube",
		url:     fmt.Sprintf("https://127.0.0.1:%d", ports[2]),
		caFile:  p.Path(pki.CACertFile),
		admin:   filepath.Join(dir, "admin.kubeconfig"),
		etcdDir: filepath.Join(dir, "etcd"),
		tokens:  tok,
		logDir:  work,
	}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	etcd, err := startProcess(work, "etcd", filepath.Join(bin, "etcd"),
		"--name", "kube", "--data-dir", s.etcdDir,
		"--listen-client-urls", etcdClient, "--advertise-client-urls", etcdClient,
		"--listen-peer-urls", etcdPeer, "--initial-advertise-peer-urls", etcdPeer,
		"--initial-cluster", "kube="+etcdPeer, "--log-level", "error")
	if err != nil {
		return s, err
	}
	s.procs = append(s.procs, etcd)
	apiserver, err := startProcess(work, "kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers", etcdClient,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(ports[2]),
		"--endpoint-reconciler-type", "none",
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--tls-cert-file", p.Path(pki.ServingCertFile), "--tls-private-key-file", p.Path(pki.ServingKeyFile),
		"--client-ca-file", p.Path(pki.CACertFile),
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", saKey, "--service-account-signing-key-file", saKey,
		"--authorization-mode", "Node,RBAC",
		"--enable-bootstrap-token-auth",
		"--token-auth-file", tok.file,
		"--cert-dir", filepath.Join(dir, "apiserver-certs"),
		"--v", "0")
	if err != nil {
		return s, err
	}
	s.procs = append(s.procs, apiserver)
	if err := p.WriteAdminKubeconfig(s.admin, s.url); err != nil {
		return s, err
	}
	client, err := s.adminClient()
	if err != nil {
		return s, err
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		if err := s.alive(); err != nil {
			return false, err
		}
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err == nil && string(body) == "ok", nil
	})
	if err != nil {
		return s, fmt.Errorf("kube-apiserver not ready: %w\n%s", err, s.logs())
	}
	kcm, err := startProcess(work, "kube-controller-manager", filepath.Join(bin, "kube-controller-manager"),
		"--kubeconfig", s.admin,
		"--authentication-kubeconfig", s.admin,
		"--authorization-kubeconfig", s.admin,
		"--controllers", "csrsigning,csrapproving,csrcleaner",
		"--cluster-signing-cert-file", p.Path(pki.CACertFile),
		"--cluster-signing-key-file", p.Path(pki.CAKeyFile),
		"--use-service-account-credentials=false",
		"--leader-elect=false",
		"--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(ports[3]),
		"--cert-dir", filepath.Join(dir, "kcm-certs"),
		"--kube-api-qps", fmt.Sprint(kcmQPS), "--kube-api-burst", fmt.Sprint(2*kcmQPS),
		"--v", "0")
	if err != nil {
		return s, err
	}
	s.procs = append(s.procs, kcm)
	return s, s.setUp(ctx)
}

func writeECKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	// SEC 1 ("EC PRIVATE KEY"): kube-apiserver's --service-account-key-file reads the
	// public key out of it, and does not accept PKCS#8.
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}

// setUp gives both systems the same RBAC: kubeadm's bootstrap bindings (kcsr makes its
// own on first start; these are the same roles), and the policy workload's group may
// create CSRs. On kcsr it adds the approval policy of the policy workload.
func (s *system) setUp(ctx context.Context) error {
	client, err := s.adminClient()
	if err != nil {
		return err
	}
	binding := func(name, role, group string) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
		}
	}
	for _, b := range []*rbacv1.ClusterRoleBinding{
		binding("kcsr-bench-kubelet-bootstrap", "system:node-bootstrapper", bootstrapGroup),
		binding("kcsr-bench-node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", bootstrapGroup),
		binding("kcsr-bench-clients", "system:node-bootstrapper", policyGroup),
	} {
		// The RBAC roles are created by a post-start hook; retry until they are there.
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := client.RbacV1().ClusterRoleBindings().Create(ctx, b, metav1.CreateOptions{})
			return err == nil || apierrors.IsAlreadyExists(err), nil
		})
		if err != nil {
			return fmt.Errorf("%s: create ClusterRoleBinding %s: %w", s.name, b.Name, err)
		}
	}
	if s.name != "kcsr" {
		return nil
	}
	cfg, err := s.adminConfig(true)
	if err != nil {
		return err
	}
	kc, err := kcsrclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = kc.KcsrV1alpha1().ApprovalPolicies().Create(ctx, benchPolicy(), metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create the benchmark's ApprovalPolicy: %w", err)
	}
	return nil
}

// benchPolicy approves the policy workload: a member of kcsr-bench asking for a client
// certificate in its own name and groups, for a day at most — a typical self-service rule.
func benchPolicy() *kcsrv1alpha1.ApprovalPolicy {
	return &kcsrv1alpha1.ApprovalPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "kcsr-bench"},
		Spec: kcsrv1alpha1.ApprovalPolicySpec{
			SignerNames: []string{"kubernetes.io/kube-apiserver-client"},
			Match:       fmt.Sprintf("%q in request.requester.groups", policyGroup),
			Rules: []kcsrv1alpha1.PolicyRule{
				{Name: "own-username", Expression: "request.subject.commonName == request.requester.username", Message: "the CN must be your own username"},
				{Name: "groups-subset", Expression: "request.subject.organizations.all(o, o in request.requester.groups)", Message: "every O must be one of your groups"},
				{Name: "max-24h", Expression: "request.expirationSeconds > 0 && request.expirationSeconds <= 86400", Message: "ask for 24h or less"},
			},
			Action: kcsrv1alpha1.PolicyApprove,
		},
	}
}

// restartKcsr stops kcsr server with SIGTERM and starts it again on the same data: the
// cold start. It returns how long the stop and the start (exec to ready) took.
func (s *system) restartKcsr(ctx context.Context) (stop, start time.Duration, err error) {
	if s.name != "kcsr" {
		return 0, 0, errors.New("only kcsr server is restarted")
	}
	stop = s.procs[0].stop(2 * time.Minute)
	start, err = s.startKcsrProcess(ctx, "kcsr-restart")
	return stop, start, err
}
