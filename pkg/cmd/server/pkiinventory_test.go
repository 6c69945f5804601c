package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
	"kcsr.dev/kcsr/pkg/pki"
)

func listRecords(t *testing.T, client *kcsrfake.Clientset) []string {
	t.Helper()
	list, err := client.KcsrV1alpha1().IssuedCertificates().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ic := range list.Items {
		out = append(out, ic.Name+" "+ic.Spec.CommonName+" "+ic.Spec.SignerName+" "+ic.Spec.Requester.Username)
	}
	sort.Strings(out)
	return out
}

// TestRecordPKI: the admin and serving certificates get one record each, however many
// times and replicas record them; a re-issued admin certificate gets its own; a revoked
// one is still found (the server starts, and warns).
func TestRecordPKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := pki.Ensure(pki.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := p.Leaves()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, l := range leaves {
		names[l.Role] = "pki-" + l.Role + "-" + fingerprint(l)
	}
	client := kcsrfake.NewSimpleClientset()

	// Two replicas starting at once, then a restart.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = recordPKI(context.Background(), client, leaves) })
	}
	wg.Wait()
	if err := recordPKI(context.Background(), client, leaves); err != nil {
		errs = append(errs, err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		names["admin"] + " kcsr-admin kcsr.dev/pki system:kcsr:pki",
		names["serving"] + " kcsr-apiserver kcsr.dev/pki system:kcsr:pki",
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, listRecords(t, client)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	// The admin certificate revoked: the next start still succeeds.
	records := client.KcsrV1alpha1().IssuedCertificates()
	admin, err := records.Get(context.Background(), names["admin"], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "superseded", Time: metav1.Now()}
	if _, err := records.UpdateStatus(context.Background(), admin, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := recordPKI(context.Background(), client, leaves); err != nil {
		t.Fatalf("with the admin certificate revoked: %v", err)
	}

	// admin.crt and admin.key removed and the server restarted: a new certificate, a new
	// record next to the revoked one.
	p, err = pki.Ensure(pki.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if leaves, err = p.Leaves(); err != nil {
		t.Fatal(err)
	}
	if err := recordPKI(context.Background(), client, leaves); err != nil {
		t.Fatal(err)
	}
	if got := listRecords(t, client); len(got) != 2 {
		t.Fatalf("records with the same files: %v", got)
	}
	removeFiles(t, p.Path(pki.AdminCertFile), p.Path(pki.AdminKeyFile))
	if p, err = pki.Ensure(pki.Options{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if leaves, err = p.Leaves(); err != nil {
		t.Fatal(err)
	}
	if err := recordPKI(context.Background(), client, leaves); err != nil {
		t.Fatal(err)
	}
	newAdmin := "pki-admin-" + fingerprint(leaves[1])
	want = append(want, newAdmin+" kcsr-admin kcsr.dev/pki system:kcsr:pki")
	sort.Strings(want)
	if diff := cmp.Diff(want, listRecords(t, client)); diff != "" {
		t.Errorf("records after the admin certificate was re-issued (-want +got):\n%s", diff)
	}

	// A record of that name holding another certificate is an error, not silently kept.
	if err := records.Delete(context.Background(), names["serving"], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	foreign := admin.DeepCopy()
	foreign.Name, foreign.ResourceVersion, foreign.Spec.SHA256Fingerprint = names["serving"], "", "00"
	if _, err := records.Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantErr := "inventory record " + names["serving"] + " holds another certificate (SHA-256 00) than " + leaves[0].File + " (SHA-256 " + fingerprint(leaves[0]) + ")"
	if err := recordPKI(context.Background(), client, leaves[:1]); err == nil || err.Error() != wantErr {
		t.Errorf("recordPKI over a foreign record = %v, want %s", err, wantErr)
	}
}

func fingerprint(l pki.Leaf) string {
	sum := sha256.Sum256(l.Cert.Raw)
	return hex.EncodeToString(sum[:])
}

func removeFiles(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}
