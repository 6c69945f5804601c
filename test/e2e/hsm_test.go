package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca/pkcs11/softhsmtest"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestSeedWalkthroughHSM: the seed's walkthrough with the cluster CA key inside a SoftHSM2
// token. No CA key file exists anywhere in the data directory; the serving and admin
// certificates and the user's certificate are all signed by the HSM.
func TestSeedWalkthroughHSM(t *testing.T) {
	now := time.Now()
	ca := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("hsm-cluster-ca"), testkit.ValidBetween(now.Add(-time.Hour), now.Add(365*24*time.Hour)))
	module, uri := softhsmtest.NewToken(t, ca.KeyPEM)
	// The key now lives in the token only; the operator keeps the CA certificate.
	dataDir := filepath.Join(t.TempDir(), "data")
	pkiDir := filepath.Join(dataDir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		t.Fatal(err)
	}
	caFile := framework.WriteFile(t, pkiDir, "ca.crt", string(ca.CertPEM))

	s := framework.StartServer(t, dataDir, "--cluster-ca-pkcs11-uri", uri, "--pkcs11-module", module)
	if _, err := os.Stat(filepath.Join(pkiDir, "ca.key")); err == nil {
		t.Fatalf("a CA key file was written although the key is in the HSM")
	}
	dir := t.TempDir()
	kc := s.Kubeconfig
	crt := framework.WriteFile(t, dir, "user.crt", string(framework.SeedWalkthrough(t, kc, dir)))
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
	framework.WriteFile(t, pkiDir, "ca.key", "stray")
	r := framework.Run(t, "", framework.Binary(t), s.Args...)
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "exists too; remove it") {
		t.Errorf("start with a stray ca.key: exit %d\n%s", r.ExitCode, r.Stderr)
	}
}
