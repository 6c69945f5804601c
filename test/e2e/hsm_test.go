package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca/pkcs11/softhsmtest"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestSeedWalkthroughHSM: the seed's walkthrough with the cluster CA key inside a SoftHSM2
// token. No CA key file exists anywhere in the data directory; the serving and admin
// certificates and the user's certificate are all signed by the HSM.
func TestSeedWalkthroughHSM(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	module, uri := softhsmtest.NewToken(t, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	// The key now lives in the token only; the operator keeps the CA certificate.
	dataDir := filepath.Join(t.TempDir(), "data")
	pkiDir := filepath.Join(dataDir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "hsm-cluster-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, pkiDir, "ca.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))

	s := framework.StartServer(t, dataDir, "--cluster-ca-pkcs11-uri", uri, "--pkcs11-module", module)
	if _, err := os.Stat(filepath.Join(pkiDir, "ca.key")); err == nil {
		t.Fatalf("a CA key file was written although the key is in the HSM")
	}
	dir := t.TempDir()
	kc := s.Kubeconfig
	request := framework.OpensslCSR(t, dir, "user", "/CN=myuser/O=dev-team")
	framework.MustKubectl(t, kc, "apply", "-f", writeFile(t, dir, "csr.yaml", framework.CSRManifest("myuser", request, clientSigner, 86400, "client auth")))
	framework.MustKubectl(t, kc, "certificate", "approve", "myuser")
	waitIssued(t, kc, "myuser")
	crt := writeFile(t, dir, "user.crt", string(mustDecode(t, framework.MustKubectl(t, kc, "get", "csr", "myuser", "-o", "jsonpath={.status.certificate}"))))
	if out := framework.Openssl(t, dir, "verify", "-CAfile", caFile, crt); !strings.Contains(out, "OK") {
		t.Errorf("openssl verify: %s", out)
	}
	cert := parseCert(t, mustRead(t, crt))
	if cert.Issuer.CommonName != "hsm-cluster-ca" {
		t.Errorf("issuer = %s, want the HSM CA", cert.Issuer)
	}
	// The admin certificate kcsr issued at start came from the HSM as well.
	admin := parseCert(t, mustRead(t, filepath.Join(pkiDir, "admin.crt")))
	if err := admin.CheckSignatureFrom(parseCert(t, mustRead(t, caFile))); err != nil {
		t.Errorf("admin certificate not signed by the HSM CA: %v", err)
	}

	// A stray key file beside the HSM CA is refused at start.
	s.Stop()
	writeFile(t, pkiDir, "ca.key", "stray")
	r := framework.Run(t, "", framework.Binary(t), s.Args...)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "exists too; remove it") {
		t.Errorf("start with a stray ca.key: exit %d\n%s", r.ExitCode, r.Stderr)
	}
}
