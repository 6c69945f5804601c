package framework

import (
	"context"
	"crypto/x509/pkix"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
	"k8s.io/client-go/util/keyutil"

	"kcsr.dev/kcsr/pkg/testkit"
)

// NodeClientCert does what the kubelet's TLS bootstrap does with client-go: a P-256 key,
// a CSR named name (generated when empty) for system:node:<node> in system:nodes to the
// kube-apiserver-client-kubelet signer, then waiting for the certificate. It returns the
// CSR's name, the certificate and the key, PEM-encoded.
func NodeClientCert(ctx context.Context, t testing.TB, client kubernetes.Interface, node, name string) (string, []byte, []byte) {
	t.Helper()
	key := testkit.NewKey(t, testkit.P256)
	csrPEM, err := certutil.MakeCSR(key, &pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reqName, uid, err := csr.RequestCertificate(client, csrPEM, name, certificatesv1.KubeAPIServerClientKubeletSignerName, nil,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, key)
	if err != nil {
		t.Fatalf("create node CSR: %v", err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, client, reqName, uid)
	if err != nil {
		t.Fatalf("wait for node certificate: %v", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	return reqName, certPEM, keyPEM
}
