package request

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

// fakeWithGenerateName is a fake clientset that names objects created with generateName,
// as the API server does.
func fakeWithGenerateName() *fake.Clientset {
	client := fake.NewClientset()
	n := 0
	client.PrependReactor("create", "certificatesigningrequests", func(action k8stesting.Action) (bool, runtime.Object, error) {
		obj := action.(k8stesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		if obj.Name == "" {
			n++
			obj.Name = obj.GenerateName + strings.Repeat("x", n)
		}
		return false, nil, nil
	})
	return client
}

// userKubeconfig writes a kubeconfig whose current context "rahul" logs in with a
// certificate from ca (CN=rahul, O=developers, issued for lifetime), and whose context
// "other" uses a token. It returns the path and the certificate.
func userKubeconfig(t *testing.T, ca *testCA, lifetime time.Duration) (string, *x509.Certificate) {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	reqPEM, err := Identity{CommonName: "rahul", Organizations: []string{"developers"}}.CSR(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := ca.sign(t, reqPEM, time.Now().Add(-5*time.Minute), lifetime)
	keyPEM, err := pemutil.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kcsr"] = &clientcmdapi.Cluster{Server: "https://kcsr.example:6443", CertificateAuthorityData: ca.CertPEM}
	cfg.AuthInfos["rahul"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.AuthInfos["other"] = &clientcmdapi.AuthInfo{Token: "abcdef.0123456789abcdef"}
	cfg.Contexts["rahul"] = &clientcmdapi.Context{Cluster: "kcsr", AuthInfo: "rahul"}
	cfg.Contexts["other"] = &clientcmdapi.Context{Cluster: "kcsr", AuthInfo: "other"}
	cfg.CurrentContext = "rahul"
	path := filepath.Join(t.TempDir(), "rahul.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	cert, err := pemutil.FirstCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return path, cert
}

func renewOptions(path string, client kubernetes.Interface, clk clock.WithTicker) (*RenewOptions, *bytes.Buffer) {
	out := &bytes.Buffer{}
	o := NewRenewOptions(out, &bytes.Buffer{})
	o.Kubeconfig, o.Clock = path, clk
	o.NewClient = func(*rest.Config) (kubernetes.Interface, error) { return client, nil }
	return o, out
}

func TestRenew(t *testing.T) {
	ca := newTestCA(t, "ca")
	path, old := userKubeconfig(t, ca, 15*time.Minute)
	client := fakeWithGenerateName()
	o, out := renewOptions(path, client, clock.RealClock{})
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	obj := waitForCSR(t, client, "rahul-renew-")
	approveAndSign(t, client, ca, obj, 10*time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("renew: %v\n%s", err, out)
	}

	// The request: same identity, the lifetime of a 10-minute certificate, a new key.
	if got := *obj.Spec.ExpirationSeconds; got != 600 {
		t.Errorf("expirationSeconds = %d, want 600 (the current certificate's 15 minutes less the signer's 5-minute backdate)", got)
	}
	if diff := cmp.Diff([]certificatesv1.KeyUsage{"digital signature", "client auth"}, obj.Spec.Usages); diff != "" {
		t.Errorf("usages (-want +got):\n%s", diff)
	}

	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode: %v %v, want 0600", fi.Mode(), err)
	}
	c, err := loadCredentials(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.cert.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("serial unchanged")
	}
	if publicKeysEqual(c.cert.PublicKey, old.PublicKey) {
		t.Errorf("key unchanged; want a new key by default")
	}
	if diff := cmp.Diff(IdentityOf(old).String(), IdentityOf(c.cert).String()); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	if c.config.AuthInfos["other"].Token != "abcdef.0123456789abcdef" || c.config.Clusters["kcsr"].Server != "https://kcsr.example:6443" || len(c.config.Contexts) != 2 {
		t.Errorf("the rest of the kubeconfig changed: %+v", c.config)
	}
	if !strings.Contains(out.String(), "renewed "+path+": serial "+old.SerialNumber.Text(16)+" replaced by "+c.cert.SerialNumber.Text(16)) {
		t.Errorf("output:\n%s", out)
	}
}

func TestRenewKeepingTheKey(t *testing.T) {
	ca := newTestCA(t, "ca")
	path, old := userKubeconfig(t, ca, time.Hour)
	client := fakeWithGenerateName()
	o, out := renewOptions(path, client, clock.RealClock{})
	o.NewKey = false
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	approveAndSign(t, client, ca, waitForCSR(t, client, "rahul-renew-"), time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("renew: %v\n%s", err, out)
	}
	c, err := loadCredentials(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(c.cert.PublicKey, old.PublicKey) || c.cert.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Errorf("want a new certificate for the same key")
	}
}

// TestRenewFailureChangesNothing: a denied renewal leaves the kubeconfig byte for byte.
func TestRenewFailureChangesNothing(t *testing.T) {
	ca := newTestCA(t, "ca")
	path, _ := userKubeconfig(t, ca, time.Hour)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	client := fakeWithGenerateName()
	o, _ := renewOptions(path, client, clock.RealClock{})
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	decide(t, client, waitForCSR(t, client, "rahul-renew-"), nil, condition(certificatesv1.CertificateDenied, "NotNow", "try later"))
	err = <-done
	if diff := cmp.Diff("error: CSR rahul-renew-x was denied: NotNow: try later; no files were written", testkit.ErrString(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if ExitCode(err) != ExitDenied {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitDenied)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("the kubeconfig changed")
	}
}

func TestRenewRefuses(t *testing.T) {
	ca := newTestCA(t, "ca")
	path, cert := userKubeconfig(t, ca, time.Hour)
	for _, tc := range []struct {
		name     string
		change   func(o *RenewOptions)
		wantErr  string
		wantCode int
	}{
		{"expired", func(o *RenewOptions) { o.Clock = testingclock.NewFakeClock(cert.NotAfter) },
			"error: the certificate in PATH expired at " + cert.NotAfter.UTC().Format(time.RFC3339) + " and cannot authenticate its own renewal; get a new one with kcsr request and an administrator's kubeconfig", ExitServerError},
		{"token user", func(o *RenewOptions) { o.Context = "other" },
			`user "other" of context "other" in PATH does not log in with a client certificate and key; kcsr renew renews client certificates`, ExitUsage},
		{"no such context", func(o *RenewOptions) { o.Context = "nope" },
			`PATH has no context "nope"; see kubectl --kubeconfig PATH config get-contexts`, ExitUsage},
		{"bad window", func(o *RenewOptions) { o.RenewWindow = []float64{0.9} },
			"--renew-window takes two fractions, e.g. 0.7,0.9", ExitUsage},
		{"key type without a new key", func(o *RenewOptions) { o.NewKey, o.KeyType = false, "rsa-2048" },
			"--key-type applies to a new key; drop it or --new-key=false", ExitUsage},
		{"custom signer without usages", func(o *RenewOptions) { o.Signer = "example.com/x" },
			"--usage is required for signer example.com/x", ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := renewOptions(path, fakeWithGenerateName(), clock.RealClock{})
			tc.change(o)
			err := o.Run(context.Background())
			if diff := cmp.Diff(tc.wantErr, strings.ReplaceAll(testkit.ErrString(err), path, "PATH")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if ExitCode(err) != tc.wantCode {
				t.Errorf("exit code %d, want %d", ExitCode(err), tc.wantCode)
			}
		})
	}
}

func TestRenewalDuration(t *testing.T) {
	for _, tc := range []struct{ lifetime, want time.Duration }{
		{15 * time.Minute, 10 * time.Minute}, // 10m requested, 5m backdate added
		{65 * time.Minute, time.Hour},        // 1h requested
		{24 * time.Hour, 24 * time.Hour},     // long lifetimes are exact
		{8*time.Hour + 5*time.Minute, 8*time.Hour + 5*time.Minute},
		{12 * time.Minute, 10 * time.Minute}, // never below the API's minimum
	} {
		cert := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(tc.lifetime)}
		if got := renewalDuration(cert); got != tc.want {
			t.Errorf("lifetime %s: renew for %s, want %s", tc.lifetime, got, tc.want)
		}
	}
}

func TestRenewalPrefix(t *testing.T) {
	for cn, want := range map[string]string{
		"rahul":          "rahul-renew-",
		"system:node:n1": "system-node-n1-renew-",
		"Ünïcode":        "n-code-renew-",
		"":               "kcsr-renew-",
	} {
		if got := renewalPrefix(cn); got != want {
			t.Errorf("renewalPrefix(%q) = %q, want %q", cn, got, want)
		}
	}
}
