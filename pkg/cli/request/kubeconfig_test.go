package request

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
	testingclock "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/testkit"
)

// issuedFiles writes dir/rahul.key and dir/rahul.crt (from ca) and dir/ca.crt.
func issuedFiles(t *testing.T, ca *testCA, dir string) (keyPath, certPath, caPath string) {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	reqPEM, err := Identity{CommonName: "rahul", Organizations: []string{"developers"}}.CSR(key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pemutil.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath, certPath, caPath = filepath.Join(dir, "rahul.key"), filepath.Join(dir, "rahul.crt"), filepath.Join(dir, "ca.crt")
	for p, data := range map[string][]byte{keyPath: keyPEM, certPath: ca.sign(t, reqPEM, time.Now().Add(-time.Minute), time.Hour), caPath: ca.CertPEM} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return keyPath, certPath, caPath
}

func TestKubeconfig(t *testing.T) {
	ca := newTestCA(t, "ca")
	dir := t.TempDir()
	keyPath, certPath, caPath := issuedFiles(t, ca, dir)
	out := &bytes.Buffer{}
	o := &KubeconfigOptions{KeyFile: keyPath, CertFile: certPath, CAFile: caPath, Out: out, ErrOut: &bytes.Buffer{}}
	o.Conn.Server = "https://kcsr.example:6443"
	if err := o.Run(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rahul.kubeconfig")
	if diff := cmp.Diff("wrote "+path+": user rahul (CN=rahul O=developers), server https://kcsr.example:6443\n", out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := kc.Contexts[kc.CurrentContext]
	if ctx.AuthInfo != "rahul" || kc.Clusters[ctx.Cluster].Server != "https://kcsr.example:6443" || !bytes.Equal(kc.Clusters[ctx.Cluster].CertificateAuthorityData, ca.CertPEM) {
		t.Errorf("kubeconfig: %+v", kc)
	}
	// A second run does not overwrite it without --force.
	err = o.Run()
	if diff := cmp.Diff(path+" already exists; give --force to overwrite it, or --out FILE", testkit.ErrString(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	o.Force = true
	if err := o.Run(); err != nil {
		t.Errorf("--force: %v", err)
	}
}

func TestKubeconfigRefusesAnotherKey(t *testing.T) {
	ca := newTestCA(t, "ca")
	dir := t.TempDir()
	_, certPath, caPath := issuedFiles(t, ca, dir)
	otherKey, err := pemutil.EncodeKey(testkit.NewKey(t, testkit.P256))
	if err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(dir, "other.key")
	if err := os.WriteFile(otherPath, otherKey, 0o600); err != nil {
		t.Fatal(err)
	}
	o := &KubeconfigOptions{KeyFile: otherPath, CertFile: certPath, CAFile: caPath, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}
	o.Conn.Server = "https://kcsr.example:6443"
	err = o.Run()
	want := "--key DIR/other.key does not match --cert DIR/rahul.crt: the certificate is for another key; use the key the certificate was requested with"
	if diff := cmp.Diff(want, strings.ReplaceAll(testkit.ErrString(err), dir, "DIR")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "rahul.kubeconfig")); err == nil {
		t.Errorf("a kubeconfig was written")
	}
}

func TestKubeconfigWarnings(t *testing.T) {
	ca, otherCA := newTestCA(t, "ca"), newTestCA(t, "other")
	dir := t.TempDir()
	keyPath, certPath, _ := issuedFiles(t, ca, dir)
	otherCAPath := filepath.Join(dir, "other-ca.crt")
	if err := os.WriteFile(otherCAPath, otherCA.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	errOut := &bytes.Buffer{}
	o := &KubeconfigOptions{KeyFile: keyPath, CertFile: certPath, CAFile: otherCAPath, Out: &bytes.Buffer{}, ErrOut: errOut, Clock: testingclock.NewFakePassiveClock(time.Now().Add(2 * time.Hour))}
	o.Conn.Server = "https://kcsr.example:6443"
	if err := o.Run(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rahul.crt expired on ", "rahul.crt does not chain to the cluster CA (x509: certificate signed by unknown authority"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("warnings lack %q:\n%s", want, errOut)
		}
	}
}
