package controller

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"kcsr.dev/kcsr/pkg/ca"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestLoginCAs: the login signers of kcsr controller are those on a CA the
// cluster accepts client certificates from, read from --client-ca-file, else from the
// ConfigMap kube-apiserver publishes, else only the CA of the built-in signers.
func TestLoginCAs(t *testing.T) {
	newCA := func(cn string) *testkit.CA {
		return testkit.NewCA(t, testkit.NewKey(t, testkit.P256), func(c *x509.Certificate) { c.Subject = pkix.Name{CommonName: cn} })
	}
	kubeCA, signing, other := newCA("kubernetes"), newCA("cluster signing"), newCA("webhooks")
	clientCAFile := testkit.WriteFile(t, "client-ca.crt", kubeCA.CertPEM, 0o644)
	configMap := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "extension-apiserver-authentication"},
		Data:       map[string]string{"client-ca-file": string(kubeCA.CertPEM)},
	}
	junkFile := testkit.WriteFile(t, "junk.crt", []byte("junk"), 0o644)
	emptyConfigMap := configMap.DeepCopy()
	emptyConfigMap.Data = nil

	tests := []struct {
		name         string
		clientCAFile string
		objects      []runtime.Object
		clusterCA    *testkit.CA
		want         []string
		wantErr      string
	}{
		{name: "--client-ca-file", clientCAFile: clientCAFile, want: []string{"example.com/kube"}},
		{name: "--client-ca-file and the built-in signers' CA", clientCAFile: clientCAFile, clusterCA: signing, want: []string{"example.com/kube", "example.com/signing", "kubernetes.io/kube-apiserver-client"}},
		{name: "the flag wins over the ConfigMap", clientCAFile: testkit.WriteFile(t, "other.crt", other.CertPEM, 0o644), objects: []runtime.Object{configMap}, want: []string{"example.com/webhook"}},
		{name: "the ConfigMap kube-apiserver publishes", objects: []runtime.Object{configMap}, want: []string{"example.com/kube"}},
		{name: "no ConfigMap: only the built-in signers' CA", clusterCA: signing, want: []string{"example.com/signing", "kubernetes.io/kube-apiserver-client"}},
		{name: "a ConfigMap without client-ca-file: only the built-in signers' CA", objects: []runtime.Object{emptyConfigMap}, clusterCA: signing, want: []string{"example.com/signing", "kubernetes.io/kube-apiserver-client"}},
		{name: "nothing known", want: nil},
		{name: "an unreadable --client-ca-file", clientCAFile: "/nonexistent/ca.crt", wantErr: "--client-ca-file: open /nonexistent/ca.crt: no such file or directory"},
		{name: "a --client-ca-file that is not PEM", clientCAFile: junkFile, wantErr: "--client-ca-file " + junkFile + ": no CERTIFICATE PEM block found; give the certificate in PEM form (-----BEGIN CERTIFICATE-----)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			profiles := map[string]*signer.Profile{
				"example.com/kube":    {SignerName: "example.com/kube", CA: kubeCA.Backend()},
				"example.com/signing": {SignerName: "example.com/signing", CA: signing.Backend()},
				"example.com/webhook": {SignerName: "example.com/webhook", CA: other.Backend()},
			}
			var clusterCA ca.Backend
			if tc.clusterCA != nil {
				clusterCA = tc.clusterCA.Backend()
				profiles["kubernetes.io/kube-apiserver-client"] = &signer.Profile{SignerName: "kubernetes.io/kube-apiserver-client", CA: clusterCA}
			}
			o := NewOptions()
			o.ClientCAFile = tc.clientCAFile
			trusted, _, err := o.loginCAs(context.Background(), fake.NewSimpleClientset(tc.objects...), clusterCA)
			var login []string
			if err == nil {
				login, err = signer.MarkLoginSigners(context.Background(), profiles, trusted)
			}
			var gotErr string
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, login); diff != "" {
				t.Errorf("login signers (-want +got):\n%s", diff)
			}
			for name, p := range profiles {
				if want := slices.Contains(tc.want, name); p.Login != want {
					t.Errorf("%s: Login = %v, want %v", name, p.Login, want)
				}
			}
		})
	}
}
