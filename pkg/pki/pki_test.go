package pki

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/pemutil"
)

var epoch = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func leafSerials(t *testing.T, p *PKI) map[string]string {
	t.Helper()
	leaves, err := p.Leaves()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range leaves {
		out[l.Role] = l.Cert.SerialNumber.Text(16)
	}
	return out
}

// TestEnsureReissuesMissingLeaves: a restart keeps the certificates; one whose files were
// removed (how an administrator replaces a revoked admin certificate) is issued anew, with a
// new key, from the same CA, and the other is kept.
func TestEnsureReissuesMissingLeaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	opts := Options{Dir: dir, Clock: clocktesting.NewFakePassiveClock(epoch)}
	first, err := Ensure(opts)
	if err != nil {
		t.Fatal(err)
	}
	serials := leafSerials(t, first)
	again, err := Ensure(opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(serials, leafSerials(t, again)); diff != "" {
		t.Errorf("a restart re-issued certificates (-before +after):\n%s", diff)
	}
	if len(again.Events) != 0 {
		t.Errorf("a restart did %v", again.Events)
	}

	for _, files := range [][]string{{AdminCertFile, AdminKeyFile}, {AdminCertFile}, {AdminKeyFile}} {
		oldKey, err := os.ReadFile(filepath.Join(dir, AdminKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		p, err := Ensure(opts)
		if err != nil {
			t.Fatalf("without %v: %v", files, err)
		}
		if diff := cmp.Diff([]string{"issued " + filepath.Join(dir, AdminCertFile)}, p.Events); diff != "" {
			t.Errorf("without %v, events (-want +got):\n%s", files, diff)
		}
		got := leafSerials(t, p)
		if got["admin"] == serials["admin"] || got["serving"] != serials["serving"] {
			t.Errorf("without %v: serials %v, before %v; want a new admin certificate and the same serving one", files, got, serials)
		}
		newKey, err := os.ReadFile(filepath.Join(dir, AdminKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if string(newKey) == string(oldKey) {
			t.Errorf("without %v: the new admin certificate reuses the old key", files)
		}
		if fi, err := os.Stat(filepath.Join(dir, AdminKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("admin.key mode = %v (%v), want 0600", fi.Mode().Perm(), err)
		}
		serials = got
	}
}

// TestLeaves: the serving and admin certificates, with what the inventory records of them.
func TestLeaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p, err := Ensure(Options{Dir: dir, Clock: clocktesting.NewFakePassiveClock(epoch), SANs: []string{"kcsr.example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := p.Leaves()
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Role, File, CN string
		Orgs           []string
		Usages         []certificatesv1.KeyUsage
		PEMIsCert      bool
		FromCA         bool
	}
	var got []summary
	for _, l := range leaves {
		cert, err := pemutil.FirstCertificate(l.PEM)
		got = append(got, summary{
			Role: l.Role, File: l.File, CN: l.Cert.Subject.CommonName, Orgs: l.Cert.Subject.Organization, Usages: l.Usages,
			PEMIsCert: err == nil && cert.Equal(l.Cert),
			FromCA:    l.Cert.CheckSignatureFrom(p.CA) == nil,
		})
	}
	want := []summary{
		{Role: "serving", File: filepath.Join(dir, ServingCertFile), CN: "kcsr-apiserver", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}, PEMIsCert: true, FromCA: true},
		{Role: "admin", File: filepath.Join(dir, AdminCertFile), CN: AdminUser, Orgs: []string{AdminGroup}, Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}, PEMIsCert: true, FromCA: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("leaves (-want +got):\n%s", diff)
	}

	// The PEM is the certificate alone, whatever else the file holds.
	admin := filepath.Join(dir, AdminCertFile)
	data, err := os.ReadFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(admin, append(data, pemutil.EncodeCertificate(p.CA.Raw)...), 0o644); err != nil {
		t.Fatal(err)
	}
	leaves, err = p.Leaves()
	if err != nil {
		t.Fatal(err)
	}
	if string(leaves[1].PEM) != string(data) {
		t.Errorf("admin PEM = %q, want the certificate alone", leaves[1].PEM)
	}

	if err := os.Remove(admin); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Leaves(); err == nil {
		t.Error("Leaves without admin.crt succeeded")
	}
}
