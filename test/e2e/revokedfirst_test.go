package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// TestRevokedFirst (issue 18 item 4): a revoked record has a mirror under
// /registry/kcsr.dev/revocations/, written with it, which the server reads before the
// rest of the inventory at start; a hold lifted keeps its mirror, unrevoked. A store
// without mirrors (as an older kcsr wrote it) gets them at the next start, and a revoked
// certificate is refused at login from the first request.
func TestRevokedFirst(t *testing.T) {
	etcdURL := startEtcd(t)
	s := framework.StartServer(t, "", "--etcd-servers", etcdURL)
	dir := t.TempDir()
	alice := issueClientCertificate(t, s, dir, "alice")
	bob := issueClientCertificate(t, s, dir, "bob")
	carol := issueClientCertificate(t, s, dir, "carol")
	for _, args := range [][]string{
		{"revoke", alice.serial, "--reason", "keyCompromise"},
		{"revoke", bob.serial, "--reason", "certificateHold"},
		{"unrevoke", bob.serial},
	} {
		if r := framework.Kcsr(t, s.Kubeconfig, args...); r.ExitCode != 0 {
			t.Fatalf("kcsr %s: %s", strings.Join(args, " "), r.Combined())
		}
	}

	etcd := etcdClient(t, etcdURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const marker, mirrors = "/registry/kcsr.dev/revocations", "/registry/kcsr.dev/revocations/"
	mirrored := func() map[string]bool {
		t.Helper()
		resp, err := etcd.Get(ctx, mirrors, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, kv := range resp.Kvs {
			names[strings.TrimPrefix(string(kv.Key), mirrors)] = true
		}
		return names
	}
	if got := mirrored(); len(got) != 2 || !got[alice.record] || !got[bob.record] {
		t.Errorf("mirrors %v; want alice's (revoked) and bob's (revoked, then put back) records, %s and %s", got, alice.record, bob.record)
	}
	// Each mirror is its record, as stored in the same transaction.
	for _, c := range []issuedCert{alice, bob} {
		rec, err := etcd.Get(ctx, "/registry/kcsr.dev/issuedcertificates/"+c.record)
		if err != nil || len(rec.Kvs) != 1 {
			t.Fatalf("record %s: %v", c.record, err)
		}
		mir, err := etcd.Get(ctx, mirrors+c.record)
		if err != nil || len(mir.Kvs) != 1 {
			t.Fatalf("mirror %s: %v", c.record, err)
		}
		if string(rec.Kvs[0].Value) != string(mir.Kvs[0].Value) || rec.Kvs[0].ModRevision != mir.Kvs[0].ModRevision {
			t.Errorf("the mirror of %s is not its record written in the same transaction (revisions %d and %d)", c.record, rec.Kvs[0].ModRevision, mir.Kvs[0].ModRevision)
		}
	}
	if resp, err := etcd.Get(ctx, marker); err != nil || len(resp.Kvs) != 1 {
		t.Errorf("the marker of a store whose mirrors are complete: %v, %d keys", err, len(resp.Kvs))
	}

	// A record deleted (its certificate expired) takes its mirror with it.
	expired := createExpiredRecord(t, s, dir, "long-gone")
	if r := framework.Kcsr(t, s.Kubeconfig, "revoke", "--csr", "long-gone", "--reason", "superseded"); r.ExitCode != 0 {
		t.Fatalf("revoke the expired certificate: %s", r.Combined())
	}
	if got := mirrored(); !got[expired.Name] {
		t.Errorf("no mirror for the revoked record %s: %v", expired.Name, got)
	}
	framework.MustKubectl(t, s.Kubeconfig, "delete", "issuedcertificate", expired.Name)
	if got := mirrored(); got[expired.Name] || len(got) != 2 {
		t.Errorf("mirrors after deleting the record %s: %v; want alice's and bob's", expired.Name, got)
	}

	// The store as an older kcsr left it: no mirrors, no marker.
	s.Stop()
	if _, err := etcd.Delete(ctx, marker, clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	s.Start()
	if r := framework.Kubectl(t, alice.kubeconfig, "auth", "whoami"); r.ExitCode == 0 || !strings.Contains(r.Stderr, "Unauthorized") {
		t.Errorf("the first login with alice's revoked certificate after the restart: %s", r.Combined())
	}
	for _, c := range []issuedCert{bob, carol} {
		if r := framework.Kubectl(t, c.kubeconfig, "auth", "whoami"); r.ExitCode != 0 {
			t.Errorf("a certificate that is not revoked was refused after the restart: %s", r.Combined())
		}
	}
	if got := mirrored(); len(got) != 1 || !got[alice.record] {
		t.Errorf("mirrors written at start %v; want only alice's, the one revoked record %s", got, alice.record)
	}
	if !strings.Contains(s.Stderr(), "Wrote the mirrors of the revoked records") {
		t.Errorf("the server did not say it wrote the mirrors:\n%s", s.Stderr())
	}

	// A hold placed and lifted after the restart: refused, then good again.
	if r := framework.Kcsr(t, s.Kubeconfig, "revoke", carol.serial, "--reason", "certificateHold"); r.ExitCode != 0 {
		t.Fatalf("hold: %s", r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "401 while on hold", func() bool { return framework.Kubectl(t, carol.kubeconfig, "auth", "whoami").ExitCode != 0 })
	s.Kill()
	s.Start()
	if r := framework.Kubectl(t, carol.kubeconfig, "auth", "whoami"); r.ExitCode == 0 {
		t.Errorf("carol's certificate on hold works after kill -9 and a restart: %s", r.Combined())
	}
	if r := framework.Kcsr(t, s.Kubeconfig, "unrevoke", carol.serial); r.ExitCode != 0 {
		t.Fatalf("unrevoke: %s", r.Combined())
	}
	framework.Eventually(t, 5*time.Second, "carol's certificate to work after the hold is lifted", func() bool {
		return framework.Kubectl(t, carol.kubeconfig, "auth", "whoami").ExitCode == 0
	})

	// A certificate recorded twice (a second record made by hand): revoke and unrevoke
	// reach both records, since a revoked record of a certificate is enough to refuse it.
	carolCert := parseCert(t, mustRead(t, carol.certFile))
	second := inventory.NewRecord(&certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "carol-again", UID: "e2e-carol-again"},
		Spec: certificatesv1.CertificateSigningRequestSpec{Username: "kcsr-admin", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}}},
		clientSigner, carolCert, mustRead(t, carol.certFile))
	framework.MustKubectl(t, s.Kubeconfig, "create", "-f", framework.WriteFile(t, dir, "second.json", recordManifest(t, second)))
	reasons := func() string {
		return framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificates", "--field-selector", "spec.serialNumber="+carol.serial,
			"-o", `jsonpath={range .items[*]}{.status.revocation.reason}{","}{end}`)
	}
	if r := framework.Kcsr(t, s.Kubeconfig, "revoke", carol.serial, "--reason", "certificateHold"); r.ExitCode != 0 || strings.Count(r.Stdout, "revoked certificate "+carol.serial) != 2 {
		t.Errorf("kcsr revoke of a certificate recorded twice: exit %d\n%s", r.ExitCode, r.Combined())
	}
	if got := reasons(); got != "certificateHold,certificateHold," {
		t.Errorf("the records' revocations after kcsr revoke: %q; want both on hold", got)
	}
	if r := framework.Kcsr(t, s.Kubeconfig, "unrevoke", carol.serial); r.ExitCode != 0 {
		t.Errorf("kcsr unrevoke of a certificate recorded twice: %s", r.Combined())
	}
	if got := reasons(); got != ",," {
		t.Errorf("the records' revocations after kcsr unrevoke: %q; want none", got)
	}
	framework.Eventually(t, 5*time.Second, "carol's certificate to work again", func() bool {
		return framework.Kubectl(t, carol.kubeconfig, "auth", "whoami").ExitCode == 0
	})
}
