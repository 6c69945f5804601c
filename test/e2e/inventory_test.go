package e2e

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/testkit"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// issuedCert is a client certificate issued through a CSR, with a kubeconfig that uses it.
type issuedCert struct {
	kubeconfig, certFile, serial, record string
}

// issueClientCertificate creates a CSR for CN=name, approves it as the administrator, and
// returns the certificate, a kubeconfig using it and the name of its inventory record.
func issueClientCertificate(t *testing.T, s *framework.Server, dir, name string) issuedCert {
	t.Helper()
	kc := s.Kubeconfig
	crt := framework.IssueClientCert(t, kc, dir, name, "developers")
	return issuedCert{
		kubeconfig: s.UserKubeconfig(t, dir, name, "--client-certificate", crt, "--client-key", filepath.Join(dir, name+".key")),
		certFile:   crt,
		serial:     parseCert(t, mustRead(t, crt)).SerialNumber.Text(16),
		record:     framework.MustKubectl(t, kc, "get", "csr", name, "-o", "jsonpath={.metadata.uid}"),
	}
}

// createExpiredRecord creates, with kubectl, the record of a client certificate (of
// another CA) for CSR name that expired a day ago: one that may be deleted.
func createExpiredRecord(t *testing.T, s *framework.Server, dir, name string) *kcsrv1alpha1.IssuedCertificate {
	t.Helper()
	authority := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	now := time.Now()
	cert, _ := authority.Leaf(t, name, testkit.ValidBetween(now.Add(-48*time.Hour), now.Add(-24*time.Hour)))
	csrObj := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("e2e-" + name)},
		Spec: certificatesv1.CertificateSigningRequestSpec{Username: "e2e", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}}
	record := inventory.NewRecord(csrObj, clientSigner, cert, testkit.CertPEM(cert))
	framework.MustKubectl(t, s.Kubeconfig, "create", "-f", framework.WriteFile(t, dir, name+"-record.json", recordManifest(t, record)))
	return record
}

// recordManifest is the JSON of an IssuedCertificate for kubectl create.
func recordManifest(t *testing.T, ic *kcsrv1alpha1.IssuedCertificate) string {
	t.Helper()
	ic.TypeMeta = metav1.TypeMeta{APIVersion: "kcsr.dev/v1alpha1", Kind: "IssuedCertificate"}
	data, err := json.Marshal(ic)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// crlSerials returns the serial numbers (hex) the CA's CRL at url lists.
func crlSerials(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	for _, e := range crl.RevokedCertificateEntries {
		serials = append(serials, e.SerialNumber.Text(16))
	}
	return serials
}

// TestRevocationIsFinal: issue 13 item 5. A revoked certificate's record cannot be deleted
// before the certificate expires, by a user who may delete issuedcertificates but not
// revoke, nor by the administrator, one by one or as a collection: the certificate keeps
// getting 401 and stays in the CRL and OCSP. No unexpired record can be deleted (it would
// make its certificate impossible to revoke); an expired one can, revoked or not. A record
// whose fingerprint disagrees with its certificate is refused at create.
func TestRevocationIsFinal(t *testing.T) {
	dir := t.TempDir()
	tokens := framework.WriteFile(t, dir, "tokens.csv", "cleaner-token,cleaner,3001,\"ops\"\n")
	port := framework.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := framework.StartServer(t, "", "--token-auth-file", tokens, "--public-port", fmt.Sprint(port))
	kc := s.Kubeconfig
	rahul := issueClientCertificate(t, s, dir, "rahul")
	alice := issueClientCertificate(t, s, dir, "alice")

	framework.MustKubectl(t, kc, "create", "clusterrole", "inventory-cleaner", "--verb", "get,list,delete,deletecollection", "--resource", "issuedcertificates.kcsr.dev")
	framework.MustKubectl(t, kc, "create", "clusterrolebinding", "cleaner", "--clusterrole", "inventory-cleaner", "--user", "cleaner")
	cleaner := s.UserKubeconfig(t, dir, "cleaner", "--token", "cleaner-token")
	if got := strings.TrimSpace(framework.MustKubectl(t, kc, "auth", "can-i", "delete", "issuedcertificates.kcsr.dev", "--as", "cleaner")); got != "yes" {
		t.Fatalf("cleaner may delete issuedcertificates: %q", got)
	}
	if r := framework.Kubectl(t, kc, "auth", "can-i", "revoke", "issuedcertificates.kcsr.dev", "--as", "cleaner"); strings.TrimSpace(r.Stdout) != "no" {
		t.Fatalf("cleaner may revoke: %s", r.Combined())
	}

	if r := framework.Kcsr(t, kc, "revoke", rahul.serial, "--reason", "keyCompromise", "--message", "laptop stolen"); r.ExitCode != 0 {
		t.Fatalf("kcsr revoke: %s", r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "401 for the revoked certificate", func() bool {
		r := framework.Kubectl(t, rahul.kubeconfig, "get", "csr")
		return r.ExitCode != 0 && strings.Contains(r.Stderr, "Unauthorized")
	})
	fields := strings.Split(framework.MustKubectl(t, kc, "get", "issuedcertificate", rahul.record, "-o", "jsonpath={.spec.notAfter}|{.status.revocation.time}"), "|")
	notAfter, revokedAt := fields[0], fields[1]

	// The cleaner, then the administrator (system:masters), try to delete the record.
	refusal := `issuedcertificates.kcsr.dev "` + rahul.record + `" is forbidden: certificate ` + rahul.serial + ` (CN=rahul) was revoked (keyCompromise) on ` + revokedAt + ` and expires at ` + notAfter +
		`; its record is what keeps it refused at login and listed in the CRL and OCSP, so it cannot be deleted before it expires: delete it after ` + notAfter
	for who, kubeconfig := range map[string]string{"cleaner": cleaner, "admin": kc} {
		r := framework.Kubectl(t, kubeconfig, "delete", "issuedcertificate", rahul.record)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "Error from server (Forbidden): "+refusal) {
			t.Errorf("%s deleting the revoked record: exit %d, want Forbidden: %s\n%s", who, r.ExitCode, refusal, r.Combined())
		}
		r = framework.Kubectl(t, kubeconfig, "delete", "--raw", "/apis/kcsr.dev/v1alpha1/issuedcertificates?fieldSelector=spec.serialNumber%3D"+rahul.serial)
		if r.ExitCode == 0 || !strings.Contains(r.Stderr, "forbidden") || !strings.Contains(r.Stderr, "delete it after "+notAfter) {
			t.Errorf("%s deleting the revoked record as a collection: exit %d\n%s", who, r.ExitCode, r.Combined())
		}
	}
	// The whole collection: nothing unexpired goes.
	if r := framework.Kubectl(t, kc, "delete", "--raw", "/apis/kcsr.dev/v1alpha1/issuedcertificates"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "cannot be deleted before it expires") {
		t.Errorf("deletecollection of the inventory: exit %d\n%s", r.ExitCode, r.Combined())
	}
	for _, rec := range []string{rahul.record, alice.record} {
		if r := framework.Kubectl(t, kc, "get", "issuedcertificate", rec); r.ExitCode != 0 {
			t.Errorf("record %s is gone: %s", rec, r.Combined())
		}
	}

	// Still revoked everywhere: login, CRL, OCSP.
	time.Sleep(time.Second) // time for a delete that went through to reach the login check
	if r := framework.Kubectl(t, rahul.kubeconfig, "get", "csr"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("after the delete attempts the revoked certificate logs in: %s", r.Combined())
	}
	if serials := crlSerials(t, base+"/crl/cluster.crl"); !slices.Contains(serials, rahul.serial) {
		t.Errorf("the CRL lists %v, not the revoked %s", serials, rahul.serial)
	}
	caFile := s.CACertPath()
	if out := framework.Run(t, "", "openssl", "ocsp", "-issuer", caFile, "-cert", rahul.certFile, "-url", base+"/ocsp/cluster", "-CAfile", caFile).Combined(); !strings.Contains(out, rahul.certFile+": revoked") {
		t.Errorf("openssl ocsp after the delete attempts:\n%s", out)
	}

	// A valid record cannot be deleted either: the certificate would become irrevocable.
	if r := framework.Kubectl(t, cleaner, "delete", "issuedcertificate", alice.record); r.ExitCode == 0 || !strings.Contains(r.Stderr, "certificate "+alice.serial+" (CN=alice) is valid until ") || !strings.Contains(r.Stderr, "without its record it could no longer be revoked") {
		t.Errorf("deleting a valid record: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if r := framework.Kubectl(t, alice.kubeconfig, "auth", "whoami"); r.ExitCode != 0 {
		t.Errorf("alice: %s", r.Combined())
	}

	// A forged record, alice's certificate under rahul's fingerprint, is refused at create,
	// naming the field.
	aliceRecord := &kcsrv1alpha1.IssuedCertificate{}
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, kc, "get", "issuedcertificate", alice.record, "-o", "json")), aliceRecord); err != nil {
		t.Fatal(err)
	}
	rahulFP := framework.SHA256Fingerprint(t, rahul.certFile)
	forged := &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: "forged"}, Spec: aliceRecord.Spec}
	forged.Spec.SHA256Fingerprint = rahulFP
	r := framework.Kubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, "forged.json", recordManifest(t, forged)))
	want := `spec.sha256Fingerprint: Invalid value: "` + rahulFP + `": does not match spec.certificate, which says "` + aliceRecord.Spec.SHA256Fingerprint + `"`
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, `"forged" is invalid`) || !strings.Contains(r.Stderr, want) {
		t.Errorf("creating a forged record: exit %d, want %s\n%s", r.ExitCode, want, r.Combined())
	}

	// An expired certificate's record can be deleted, revoked or not, by the cleaner.
	expiredCrt, _ := framework.SignedCert(t, dir, "expired", "/CN=old-laptop", caFile, s.CAKeyPath(), "extendedKeyUsage=clientAuth", -1)
	expired := parseCert(t, mustRead(t, expiredCrt))
	for name, uid := range map[string]string{"expired-revoked": "5e0c4a52-8b1d-4c3e-9a7f-000000000001", "expired": "5e0c4a52-8b1d-4c3e-9a7f-000000000002"} {
		rec := inventory.NewRecord(&certificatesv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)},
			Spec:       certificatesv1.CertificateSigningRequestSpec{Username: "kcsr-admin", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}},
		}, clientSigner, expired, pemutil.EncodeCertificate(expired.Raw))
		rec.Name = name
		framework.MustKubectl(t, kc, "create", "-f", framework.WriteFile(t, dir, name+".json", recordManifest(t, rec)))
	}
	if r := framework.Kcsr(t, kc, "revoke", "--csr", "expired-revoked", "--reason", "superseded"); r.ExitCode != 0 {
		t.Fatalf("revoke the expired record: %s", r.Combined())
	}
	for _, name := range []string{"expired-revoked", "expired"} {
		if r := framework.Kubectl(t, cleaner, "delete", "issuedcertificate", name); r.ExitCode != 0 {
			t.Errorf("deleting the expired record %s: %s", name, r.Combined())
		}
	}
}

// pkiRecords lists the inventory records of the server's own PKI as "name CN fingerprint
// requester csrName state", sorted.
func pkiRecords(t *testing.T, kc string) []string {
	t.Helper()
	out := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.signerName="+kcsrv1alpha1.PKISignerName,
		"-o", `jsonpath={range .items[*]}{.metadata.name} {.spec.commonName} {.spec.sha256Fingerprint} {.spec.requester.username} csr={.spec.csrName} revoked={.status.revocation.reason}{"\n"}{end}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	return lines
}

// TestServerCertificatesAreRevocable: issue 13 item 10. The admin and serving certificates
// the server issues itself are in the inventory from the first start, once however often
// it restarts; the admin certificate can be revoked like any other (its kubeconfig then
// gets 401 at once, and it is in the cluster CRL); removing admin.crt and admin.key and
// restarting issues a new one, which works and is recorded too.
func TestServerCertificatesAreRevocable(t *testing.T) {
	port := framework.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	s := framework.StartServer(t, "", "--public-port", fmt.Sprint(port))
	kc := s.Kubeconfig
	pkiDir := filepath.Join(s.DataDir, "pki")
	adminCrt, servingCrt := filepath.Join(pkiDir, pki.AdminCertFile), filepath.Join(pkiDir, pki.ServingCertFile)
	adminFP, servingFP := framework.SHA256Fingerprint(t, adminCrt), framework.SHA256Fingerprint(t, servingCrt)
	want := []string{
		"pki-admin-" + adminFP + " kcsr-admin " + adminFP + " system:kcsr:pki csr= revoked=",
		"pki-serving-" + servingFP + " kcsr-apiserver " + servingFP + " system:kcsr:pki csr= revoked=",
	}
	sort.Strings(want)
	if got := pkiRecords(t, kc); !slices.Equal(got, want) {
		t.Fatalf("PKI records on a fresh server:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	table := framework.MustKubectl(t, kc, "get", "issuedcertificates")
	for _, cn := range []string{"kcsr-admin", "kcsr-apiserver"} {
		if !strings.Contains(table, cn) {
			t.Errorf("kubectl get issuedcertificates does not list %s:\n%s", cn, table)
		}
	}

	s.Stop()
	s.Start()
	if got := pkiRecords(t, kc); !slices.Equal(got, want) {
		t.Errorf("PKI records after a restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Revoke the admin certificate with itself, by fingerprint as openssl prints it.
	fingerprintLine := strings.TrimSpace(framework.Openssl(t, pkiDir, "x509", "-in", adminCrt, "-noout", "-fingerprint", "-sha256"))
	adminSerial := parseCert(t, mustRead(t, adminCrt)).SerialNumber.Text(16)
	r := framework.Run(t, "", framework.Binary(t), "revoke", "--fingerprint", fingerprintLine, "--reason", "superseded", "--kubeconfig", kc)
	if wantOut := "revoked certificate " + adminSerial + " (CN=kcsr-admin O=system:masters, signer kcsr.dev/pki, issued by the server's PKI): superseded"; r.ExitCode != 0 || !strings.Contains(r.Stdout, wantOut) {
		t.Fatalf("kcsr revoke of the admin certificate: want %q\n%s", wantOut, r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "401 for the revoked admin certificate", func() bool {
		r := framework.Kubectl(t, kc, "get", "csr")
		return r.ExitCode != 0 && strings.Contains(r.Stderr, "Unauthorized")
	})
	framework.Eventually(t, 5*time.Second, "the admin certificate in the cluster CRL", func() bool {
		return slices.Contains(crlSerials(t, base+"/crl/cluster.crl"), adminSerial)
	})

	// A restart does not bring it back, and says what to do.
	s.Stop()
	s.Start()
	if r := framework.Kubectl(t, kc, "get", "csr"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("after a restart the revoked admin certificate works: %s", r.Combined())
	}
	if !strings.Contains(s.Stderr(), "a certificate of the server's PKI is revoked; delete it and its key and restart the server to issue a new one") {
		t.Errorf("the server does not say the admin certificate is revoked:\n%s", s.Stderr())
	}

	// Recovery (docs/revocation.md): remove admin.crt and admin.key, restart.
	s.Stop()
	for _, f := range []string{adminCrt, filepath.Join(pkiDir, pki.AdminKeyFile)} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	s.Start()
	if out := framework.MustKubectl(t, kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "kcsr-admin" {
		t.Errorf("the new admin kubeconfig authenticates as %q", out)
	}
	newFP := framework.SHA256Fingerprint(t, adminCrt)
	if newFP == adminFP {
		t.Fatal("the admin certificate was not re-issued")
	}
	want = []string{
		"pki-admin-" + adminFP + " kcsr-admin " + adminFP + " system:kcsr:pki csr= revoked=superseded",
		"pki-admin-" + newFP + " kcsr-admin " + newFP + " system:kcsr:pki csr= revoked=",
		"pki-serving-" + servingFP + " kcsr-apiserver " + servingFP + " system:kcsr:pki csr= revoked=",
	}
	sort.Strings(want)
	if got := pkiRecords(t, kc); !slices.Equal(got, want) {
		t.Errorf("PKI records after the admin certificate was replaced:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The new one is recorded with its serial, so kcsr revoke finds it (by serial too).
	newSerial := parseCert(t, mustRead(t, adminCrt)).SerialNumber.Text(16)
	if got := framework.MustKubectl(t, kc, "get", "issuedcertificates", "--field-selector", "spec.serialNumber="+newSerial, "-o", "name"); strings.TrimSpace(got) != "issuedcertificate.kcsr.dev/pki-admin-"+newFP {
		t.Errorf("the new admin certificate by serial: %q", got)
	}
}

// TestServerCertificatesOnceAcrossReplicas: issue 13 item 10, with replicas. Two servers on
// one external etcd with the same PKI record its certificates once.
func TestServerCertificatesOnceAcrossReplicas(t *testing.T) {
	clientURL := startEtcd(t)
	first := framework.StartServer(t, "", "--etcd-servers", clientURL)
	dataDir := filepath.Join(t.TempDir(), "second")
	framework.CopyPKI(t, first.DataDir, dataDir)
	second := framework.StartServer(t, dataDir, "--etcd-servers", clientURL)
	for _, kc := range []string{first.Kubeconfig, second.Kubeconfig} {
		if got := pkiRecords(t, kc); len(got) != 2 {
			t.Errorf("PKI records seen through %s:\n%s", kc, strings.Join(got, "\n"))
		}
	}
}

// TestInventoryRetention (issue 18 item 6): a record whose certificate expired more than
// --inventory-retention ago is deleted by the cleaner and counted; records of valid
// certificates (the server's own) stay; a negative retention is refused at start.
func TestInventoryRetention(t *testing.T) {
	s := framework.StartServer(t, "", "--inventory-retention", "1s", "--csr-gc-interval", "2s")
	dir := t.TempDir()
	record := createExpiredRecord(t, s, dir, "long-gone")

	framework.Eventually(t, 30*time.Second, "the expired record to be deleted", func() bool {
		return framework.Kubectl(t, s.Kubeconfig, "get", "issuedcertificate", record.Name).ExitCode != 0
	})
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificates", "-o", "name"); strings.Count(got, "issuedcertificate") != 2 {
		t.Errorf("the records of valid certificates (the server's own two) were not all kept:\n%s", got)
	}
	metricsText := framework.MustKubectl(t, s.Kubeconfig, "get", "--raw", "/metrics")
	if !strings.Contains(metricsText, "kcsr_inventory_expired_deleted_total 1") {
		t.Errorf("kcsr_inventory_expired_deleted_total does not count the deletion")
	}

	r := framework.Run(t, "", framework.Binary(t), "server", "--data-dir", t.TempDir(), "--inventory-retention", "-1h")
	if r.ExitCode == 0 || !strings.Contains(r.Stderr, "--inventory-retention must not be negative") {
		t.Errorf("a negative retention: exit %d, %s", r.ExitCode, r.Combined())
	}
}
