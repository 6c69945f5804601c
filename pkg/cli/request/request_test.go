package request

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/clientcmd"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/testkit"
)

// validOptions are options that pass Validate, writing to a fresh directory.
func validOptions(t *testing.T) *Options {
	o := NewOptions(&bytes.Buffer{}, &bytes.Buffer{})
	o.User, o.Groups, o.OutDir = "rahul", []string{"developers"}, t.TempDir()
	return o
}

func writeKeyFile(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	keyPEM, err := pemutil.EncodeKey(testkit.NewKey(t, testkit.P256))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "existing.key")
	if err := os.WriteFile(p, keyPEM, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name       string
		change     func(o *Options)
		wantErr    string
		wantUsages []certificatesv1.KeyUsage
	}{
		{name: "defaults", change: func(o *Options) {}, wantUsages: []certificatesv1.KeyUsage{"digital signature", "client auth"}},
		{name: "RSA keys add key encipherment", change: func(o *Options) { o.KeyType = "rsa-2048" }, wantUsages: []certificatesv1.KeyUsage{"digital signature", "key encipherment", "client auth"}},
		{name: "kubelet serving", change: func(o *Options) {
			o.User, o.Groups, o.Signer, o.DNSNames = "system:node:n1", []string{"system:nodes"}, certificatesv1.KubeletServingSignerName, []string{"n1.example"}
		}, wantUsages: []certificatesv1.KeyUsage{"digital signature", "server auth"}},
		{name: "explicit usages", change: func(o *Options) { o.Usages = []string{"client auth"} }, wantUsages: []certificatesv1.KeyUsage{"client auth"}},
		{name: "custom signer with usages", change: func(o *Options) {
			o.Signer, o.Usages = "example.com/mtls", []string{"digital signature", "server auth"}
		}, wantUsages: []certificatesv1.KeyUsage{"digital signature", "server auth"}},
		{name: "user required", change: func(o *Options) { o.User = "" },
			wantErr: "--user is required: the CN, the user name the certificate logs in as"},
		{name: "name with a slash", change: func(o *Options) { o.Name = "a/b" },
			wantErr: `--name "a/b" cannot name a CSR and files (may not contain '/'); choose a name without / \ % and other than . and ..`},
		{name: "unknown key type", change: func(o *Options) { o.KeyType = "rsa-1024" },
			wantErr: `--key-type "rsa-1024" is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519`},
		{name: "bad IP", change: func(o *Options) { o.IPAddresses = []string{"10.0.0.300"} },
			wantErr: `--ip-address "10.0.0.300" is not an IP address`},
		{name: "IP as DNS name", change: func(o *Options) { o.DNSNames = []string{"10.0.0.1"} },
			wantErr: `--dns-name "10.0.0.1" is an IP address; use --ip-address`},
		{name: "short duration", change: func(o *Options) { o.Duration = 9 * time.Minute },
			wantErr: "--duration 9m0s is below the API's minimum of 10m"},
		{name: "unknown usage", change: func(o *Options) { o.Usages = []string{"client-auth"} },
			wantErr: `--usage "client-auth" is not a Kubernetes key usage; use one of ["any" "cert sign" "client auth" "code signing" "content commitment" "crl sign" "data encipherment" "decipher only" "digital signature" "email protection" "encipher only" "ipsec end system" "ipsec tunnel" "ipsec user" "key agreement" "key encipherment" "microsoft sgc" "netscape sgc" "ocsp signing" "s/mime" "server auth" "signing" "timestamping"]`},
		{name: "duplicate usage", change: func(o *Options) { o.Usages = []string{"client auth", "client auth"} },
			wantErr: `--usage "client auth" is given twice; give each usage once`},
		{name: "custom signer without usages", change: func(o *Options) { o.Signer = "example.com/mtls" },
			wantErr: `--usage is required for signer example.com/mtls: kcsr knows the usages of the built-in signers only (e.g. --usage "digital signature" --usage "client auth")`},
		{name: "legacy signer", change: func(o *Options) { o.Signer = "kubernetes.io/legacy-unknown" },
			wantErr: "--signer kubernetes.io/legacy-unknown is not allowed via the certificates.k8s.io/v1 API; use another signer"},
		{name: "malformed signer", change: func(o *Options) { o.Signer = "no-slash" },
			wantErr: `--signer "no-slash": must be a fully qualified domain and path of the form 'example.com/signer-name'`},
		{name: "system:masters", change: func(o *Options) { o.Groups = []string{"system:masters"} },
			wantErr: "--group system:masters: the kubernetes.io/kube-apiserver-client signer never issues certificates for system:masters (Kubernetes refuses such CSRs); grant the user RBAC permissions instead"},
		{name: "wait", change: func(o *Options) { o.Wait = 0 }, wantErr: "--wait 0s must be positive"},
		{name: "every problem at once, on one line", change: func(o *Options) { o.KeyType, o.IPAddresses, o.Wait = "dsa", []string{"x"}, -1 },
			wantErr: `--ip-address "x" is not an IP address; --key-type "dsa" is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519; --wait -1ns must be positive`},
		{name: "out-dir missing", change: func(o *Options) { o.OutDir = filepath.Join(o.OutDir, "nope") },
			wantErr: "--out-dir: stat OUT: no such file or directory"},
		{name: "existing file", change: func(o *Options) {
			if err := os.WriteFile(filepath.Join(o.OutDir, "rahul.kubeconfig"), nil, 0o600); err != nil {
				panic(err)
			}
		}, wantErr: "OUT/rahul.kubeconfig already exists; move it away, or choose another --name or --out-dir"},
		{name: "key file", change: func(o *Options) { o.KeyFile = writeKeyFile(t, t.TempDir(), 0o600) },
			wantUsages: []certificatesv1.KeyUsage{"digital signature", "client auth"}},
		{name: "key file of another type than --key-type", change: func(o *Options) {
			o.KeyFile, o.KeyType, o.KeyTypeSet = writeKeyFile(t, o.OutDir, 0o600), "rsa-2048", true
		}, wantErr: "--key OUT/existing.key holds a ECDSA P-256 key, not rsa-2048; drop --key-type or use another key"},
		{name: "key file missing", change: func(o *Options) { o.KeyFile = filepath.Join(o.OutDir, "missing.key") },
			wantErr: "--key: open OUT/missing.key: no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions(t)
			tc.change(o)
			o.Complete()
			err := o.Validate()
			got := strings.ReplaceAll(testkit.ErrString(err), o.OutDir, "OUT")
			got = strings.ReplaceAll(got, filepath.Dir(o.OutDir), "OUT")
			if diff := cmp.Diff(tc.wantErr, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if err == nil {
				if diff := cmp.Diff(tc.wantUsages, o.usages); diff != "" {
					t.Errorf("usages (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestValidateWarnsAboutReadableKey(t *testing.T) {
	o := validOptions(t)
	errOut := &bytes.Buffer{}
	o.ErrOut = errOut
	o.KeyFile = writeKeyFile(t, o.OutDir, 0o644)
	o.Complete()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "has mode 0644, readable by others; run chmod 600") {
		t.Errorf("no warning: %q", errOut.String())
	}
}

// runOptions are options that run against a fake API whose cluster CA is ca.
func runOptions(t *testing.T, ca *testCA, client *fake.Clientset) (*Options, *bytes.Buffer) {
	t.Helper()
	o := validOptions(t)
	out := &bytes.Buffer{}
	o.Out = out
	adminKey, err := pemutil.EncodeKey(testkit.NewKey(t, testkit.P256))
	if err != nil {
		t.Fatal(err)
	}
	o.Conn.Kubeconfig = filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := pki.WriteKubeconfig(o.Conn.Kubeconfig, "https://kcsr.example:6443", "admin", ca.CertPEM, ca.CertPEM, adminKey); err != nil {
		t.Fatal(err)
	}
	o.NewClient = func(*rest.Config) (kubernetes.Interface, error) { return client, nil }
	return o, out
}

func TestRunWritesTheFiles(t *testing.T) {
	ca := newTestCA(t, "ca")
	client := fake.NewClientset()
	o, out := runOptions(t, ca, client)
	done := make(chan error, 1)
	go func() { done <- o.Run(context.Background()) }()
	approveAndSign(t, client, ca, waitForCSR(t, client, "rahul"), 24*time.Hour)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v\n%s", err, out)
	}
	for name, mode := range map[string]os.FileMode{"rahul.key": 0o600, "rahul.crt": 0o644, "rahul.kubeconfig": 0o600} {
		fi, err := os.Stat(filepath.Join(o.OutDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %#o, want %#o", name, fi.Mode().Perm(), mode)
		}
	}
	kc, err := clientcmd.LoadFromFile(filepath.Join(o.OutDir, "rahul.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := kc.Contexts[kc.CurrentContext]
	cluster, user := kc.Clusters[ctx.Cluster], kc.AuthInfos[ctx.AuthInfo]
	if ctx.AuthInfo != "rahul" || cluster.Server != "https://kcsr.example:6443" || !bytes.Equal(cluster.CertificateAuthorityData, ca.CertPEM) {
		t.Errorf("kubeconfig: user %q, server %q, CA embedded %v", ctx.AuthInfo, cluster.Server, bytes.Equal(cluster.CertificateAuthorityData, ca.CertPEM))
	}
	keyPEM, _ := os.ReadFile(filepath.Join(o.OutDir, "rahul.key"))
	certPEM, _ := os.ReadFile(filepath.Join(o.OutDir, "rahul.crt"))
	if !bytes.Equal(user.ClientKeyData, keyPEM) || !bytes.Equal(user.ClientCertificateData, certPEM) {
		t.Errorf("the kubeconfig does not embed rahul.key and rahul.crt")
	}
	if _, _, err := pemutil.ParseCertAndKey(certPEM, keyPEM); err != nil {
		t.Errorf("rahul.crt and rahul.key: %v", err)
	}
}

// TestRunEnds: a denial leaves the output directory as it was; a cancelled context
// (Ctrl-C) or a timeout keep the CSR and its key (NAME.key, 0600) for kcsr fetch, and say
// so; with --cleanup they delete the CSR and leave no files.
func TestRunEnds(t *testing.T) {
	ca := newTestCA(t, "ca")
	cases := map[string]struct {
		end       func(t *testing.T, client *fake.Clientset, cancel context.CancelFunc)
		wait      time.Duration
		cleanup   bool
		wantCode  int
		wantFiles []string
		wantCSR   bool
	}{
		"interrupted": {end: func(t *testing.T, client *fake.Clientset, cancel context.CancelFunc) {
			waitForCSR(t, client, "rahul")
			cancel()
		}, wait: time.Minute, wantCode: ExitTimeout, wantFiles: []string{"rahul.key"}, wantCSR: true},
		"timed out":                {end: func(t *testing.T, client *fake.Clientset, cancel context.CancelFunc) {}, wait: 50 * time.Millisecond, wantCode: ExitTimeout, wantFiles: []string{"rahul.key"}, wantCSR: true},
		"timed out with --cleanup": {end: func(t *testing.T, client *fake.Clientset, cancel context.CancelFunc) {}, wait: 50 * time.Millisecond, cleanup: true, wantCode: ExitTimeout},
		"denied": {end: func(t *testing.T, client *fake.Clientset, cancel context.CancelFunc) {
			decide(t, client, waitForCSR(t, client, "rahul"), nil, condition(certificatesv1.CertificateDenied, "No", "no"))
		}, wait: time.Minute, wantCode: ExitDenied, wantCSR: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			client := fake.NewClientset()
			o, _ := runOptions(t, ca, client)
			o.Wait = tc.wait
			o.Cleanup = tc.cleanup
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- o.Run(ctx) }()
			tc.end(t, client, cancel)
			err := <-done
			cancel()
			if code := ExitCode(err); code != tc.wantCode {
				t.Errorf("exit code %d (%v), want %d", code, err, tc.wantCode)
			}
			var files []string
			entries, _ := os.ReadDir(o.OutDir)
			for _, e := range entries {
				files = append(files, e.Name())
				if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
					t.Errorf("%s has mode %#o, want 0600", e.Name(), fi.Mode().Perm())
				}
			}
			if !slices.Equal(files, tc.wantFiles) {
				t.Errorf("files in the output directory: %v, want %v", files, tc.wantFiles)
			}
			_, gerr := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), "rahul", metav1.GetOptions{})
			if (gerr == nil) != tc.wantCSR {
				t.Errorf("CSR kept = %v, want %v", gerr == nil, tc.wantCSR)
			}
			if tc.wantCSR && tc.wantCode == ExitTimeout && !strings.Contains(err.Error(), "kcsr fetch rahul") {
				t.Errorf("the error does not say how to collect the certificate: %v", err)
			}
		})
	}
}

func TestWriteSetRemovesPartialSets(t *testing.T) {
	dir := t.TempDir()
	err := writeSet([]outputFile{
		dataFile(filepath.Join(dir, "a.key"), []byte("key"), 0o600),
		dataFile(filepath.Join(dir, "b.crt"), []byte("cert"), 0o644),
		dataFile(filepath.Join(dir, "missing", "c.kubeconfig"), []byte("kubeconfig"), 0o600),
	})
	if err == nil {
		t.Fatal("writeSet into a missing directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestSelfApproval: a requester the server lets approve their own CSR is told so, and with
// --approve the CSR is approved in the same step; one it does not let is warned with
// --approve, and the CSR waits for an approver.
func TestSelfApproval(t *testing.T) {
	ca := newTestCA(t, "ca")
	for _, tc := range []struct {
		name           string
		allowed, flag  bool
		wantOut        string
		wantErrOut     string
		wantApprovalBy string
	}{
		{name: "may, without --approve", allowed: true, wantOut: "you may approve it yourself: kcsr approve rahul (or request with --approve)"},
		{name: "may, with --approve", allowed: true, flag: true, wantApprovalBy: "KcsrApprove"},
		{name: "may not, with --approve", flag: true, wantErrOut: "warning: you may not approve requests of signer kubernetes.io/kube-apiserver-client"},
		{name: "may not, without --approve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			client.PrependReactor("create", "selfsubjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
				review := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
				review.Status.Allowed = tc.allowed
				return true, review, nil
			})
			o, out := runOptions(t, ca, client)
			errOut := &bytes.Buffer{}
			o.ErrOut = errOut
			o.Approve = tc.flag
			o.NoWait = true
			if err := o.Run(context.Background()); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if tc.wantOut != "" && !strings.Contains(out.String(), tc.wantOut) || tc.wantOut == "" && strings.Contains(out.String(), "approve it yourself") {
				t.Errorf("stdout:\n%s\nwant %q", out, tc.wantOut)
			}
			if tc.wantErrOut != "" && !strings.Contains(errOut.String(), tc.wantErrOut) || tc.wantErrOut == "" && errOut.Len() > 0 {
				t.Errorf("stderr:\n%s\nwant %q", errOut, tc.wantErrOut)
			}
			obj, err := client.CertificatesV1().CertificateSigningRequests().Get(context.Background(), "rahul", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if c := csr.Condition(obj, certificatesv1.CertificateApproved); c != nil {
				got = c.Reason
			}
			if got != tc.wantApprovalBy {
				t.Errorf("approved by %q, want %q", got, tc.wantApprovalBy)
			}
		})
	}
}
