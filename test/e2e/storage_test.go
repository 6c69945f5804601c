package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/test/e2e/framework"
)

// etcdClient is a client of the etcd at url, closed when the test ends.
func etcdClient(t *testing.T, url string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cborTag is the CBOR self-described tag (RFC 8949 §3.4.6) every CBOR object stored by
// k8s.io/apimachinery starts with.
var cborTag = []byte{0xd9, 0xd9, 0xf7}

// TestInventoryStoredAsCBOR: kcsr's own types, which have no protobuf encoding, are stored
// as CBOR, a record's certificate as DER; clients still read them as JSON, with the PEM
// issued. A record stored as JSON, as an older kcsr wrote it, stays readable and is
// rewritten as CBOR at its next update.
func TestInventoryStoredAsCBOR(t *testing.T) {
	etcdURL := startEtcd(t)
	s := framework.StartServer(t, "", "--etcd-servers", etcdURL)
	dir := t.TempDir()
	c := issueClientCertificate(t, s, dir, "rahul")

	etcd := etcdClient(t, etcdURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const prefix = "/registry/kcsr.dev/issuedcertificates/"
	resp, err := etcd.Get(ctx, prefix+c.record)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the record of rahul's certificate in etcd: %v, %d keys", err, len(resp.Kvs))
	}
	stored := resp.Kvs[0].Value
	if !bytes.HasPrefix(stored, cborTag) {
		t.Errorf("the record is not stored as CBOR: starts with %q", stored[:min(len(stored), 16)])
	}
	// The certificate as DER, and read back as the PEM issued.
	issued := mustRead(t, c.certFile)
	if !bytes.Contains(stored, parseCert(t, issued).Raw) || bytes.Contains(stored, []byte("-----BEGIN")) {
		t.Errorf("the certificate is not stored as DER")
	}
	t.Logf("the record of a P-256 client certificate takes %d bytes in etcd", len(stored))
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificate", c.record, "-o", "jsonpath={.spec.commonName}"); got != "rahul" {
		t.Errorf("kubectl get issuedcertificate: commonName %q; want rahul", got)
	}
	var read kcsrv1alpha1.IssuedCertificate
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificate", c.record, "-o", "json")), &read); err != nil || !bytes.Equal(read.Spec.Certificate, issued) {
		t.Errorf("kubectl get issuedcertificate: the certificate is not the PEM issued (%v)", err)
	}

	// The same record as an older kcsr stored it: JSON.
	var ic kcsrv1alpha1.IssuedCertificate
	if err := json.Unmarshal([]byte(framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificate", c.record, "-o", "json")), &ic); err != nil {
		t.Fatal(err)
	}
	ic.ResourceVersion, ic.ManagedFields = "", nil
	legacy, err := json.Marshal(&ic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := etcd.Put(ctx, prefix+c.record, string(legacy)); err != nil {
		t.Fatal(err)
	}
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificate", c.record, "-o", "jsonpath={.spec.serialNumber}"); got != c.serial {
		t.Errorf("a record stored as JSON reads serial %q; want %q", got, c.serial)
	}
	if r := framework.Kcsr(t, s.Kubeconfig, "revoke", c.serial, "--reason", "superseded"); r.ExitCode != 0 {
		t.Fatalf("kcsr revoke %s: exit %d\n%s%s", c.serial, r.ExitCode, r.Stdout, r.Stderr)
	}
	resp, err = etcd.Get(ctx, prefix+c.record)
	if err != nil || len(resp.Kvs) != 1 || !bytes.HasPrefix(resp.Kvs[0].Value, cborTag) {
		t.Errorf("a JSON record, once updated, is not stored as CBOR (%v)", err)
	}
	if got := framework.MustKubectl(t, s.Kubeconfig, "get", "issuedcertificate", c.record, "-o", "jsonpath={.status.revocation.reason}"); got != "superseded" {
		t.Errorf("the revocation of the JSON record reads %q", got)
	}
}

// TestInventoryLookups: a field-selector list by serial, CSR name or common name is
// answered from the server's index (the records it names, read from storage and matched
// against the whole selector), with what kubectl expects; a lookup the index has no record
// for is answered by the storage, and finds nothing either.
func TestInventoryLookups(t *testing.T) {
	s := framework.StartServer(t, "")
	dir := t.TempDir()
	rahul := issueClientCertificate(t, s, dir, "rahul")
	priya := issueClientCertificate(t, s, dir, "priya")
	get := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(framework.MustKubectl(t, s.Kubeconfig, append([]string{"get", "issuedcertificates", "-o", "name"}, args...)...))
	}
	for _, tc := range []struct {
		name     string
		selector []string
		want     string
	}{
		{"by serial", []string{"--field-selector", "spec.serialNumber=" + rahul.serial}, "issuedcertificate.kcsr.dev/" + rahul.record},
		{"by CSR name", []string{"--field-selector", "spec.csrName=priya"}, "issuedcertificate.kcsr.dev/" + priya.record},
		{"by common name and signer", []string{"--field-selector", "spec.commonName=rahul,spec.signerName=kubernetes.io/kube-apiserver-client"}, "issuedcertificate.kcsr.dev/" + rahul.record},
		{"by common name and a label no record has", []string{"--field-selector", "spec.commonName=rahul", "-l", "team=none"}, ""},
		{"by common name and another signer", []string{"--field-selector", "spec.commonName=rahul,spec.signerName=example.com/other"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := get(tc.selector...); got != tc.want {
				t.Errorf("kubectl get issuedcertificates %v: %q; want %q", tc.selector, got, tc.want)
			}
		})
	}
	if got := get("--field-selector", "spec.serialNumber=abcdef"); got != "" {
		t.Errorf("a serial nobody has: %q", got)
	}
	checkMetrics(t, framework.MustKubectl(t, s.Kubeconfig, "get", "--raw", "/metrics"), map[string]float64{
		`kcsr_inventory_lookups_total{answered_by="index"}`:   5,
		`kcsr_inventory_lookups_total{answered_by="storage"}`: 1,
	})
}
