package inventory

import (
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// TestChecker: a certificate is revoked when any of its records is, whatever the case of
// the fingerprint asked; nothing is answered until the inventory is loaded.
func TestChecker(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, Indexers())
	record := func(name, fingerprint string, revoked bool) {
		ic := &kcsrv1alpha1.IssuedCertificate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: kcsrv1alpha1.IssuedCertificateSpec{SHA256Fingerprint: fingerprint, SerialNumber: name}}
		if revoked {
			ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}
		}
		if err := indexer.Add(ic); err != nil {
			t.Fatal(err)
		}
	}
	record("a1", "aaaa", true)
	record("a2", "aaaa", false) // a second record of the same certificate, not revoked
	record("b1", "bbbb", false)
	synced := false
	c := &Checker{Indexer: indexer, Synced: func() bool { return synced }}

	if _, err := c.Revoked("aaaa"); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("before the inventory is loaded: %v; want ErrNotLoaded", err)
	}
	synced = true
	for fp, want := range map[string]string{"aaaa": "a1", "AAAA": "a1", "bbbb": "", "cccc": ""} {
		got, err := c.Revoked(fp)
		if err != nil {
			t.Fatalf("Revoked(%s): %v", fp, err)
		}
		if name := func() string {
			if got == nil {
				return ""
			}
			return got.Name
		}(); name != want {
			t.Errorf("Revoked(%s) = %q; want %q", fp, name, want)
		}
	}
	if objs, _ := indexer.ByIndex(SerialIndex, "b1"); len(objs) != 1 {
		t.Errorf("serial index: %d records for b1; want 1", len(objs))
	}
}

// TestCredentialFingerprint: only client-certificate credential ids carry a fingerprint.
func TestCredentialFingerprint(t *testing.T) {
	if fp, ok := CredentialFingerprint("X509SHA256=abcd"); !ok || fp != "abcd" {
		t.Errorf("X509SHA256=abcd: %q, %v", fp, ok)
	}
	if _, ok := CredentialFingerprint("JTI=123"); ok {
		t.Errorf("a token's credential id taken for a certificate's")
	}
}
