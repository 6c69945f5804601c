package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"kcsr.dev/kcsr/pkg/testkit"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	for _, l := range mustLeaves(t, &PKI{Dir: filepath.Dir(path)}) {
		if l.File == path {
			return l.Cert
		}
	}
	t.Fatalf("no certificate %s", path)
	return nil
}

func mustLeaves(t *testing.T, p *PKI) []Leaf {
	t.Helper()
	leaves, err := p.Leaves()
	testkit.NoError(t, err, "Leaves")
	return leaves
}

func modes(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		fi, err := os.Stat(filepath.Join(dir, n))
		testkit.NoError(t, err, "stat "+n)
		out[n] = fmt.Sprintf("%#o", fi.Mode().Perm())
	}
	return out
}

// TestEnsureCreatesTheDataDirectory: on first start the directory and the whole PKI are
// created, keys readable by the owner alone, and the certificates say what they are for.
func TestEnsureCreatesTheDataDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "pki")
	p, err := Ensure(Options{Dir: dir, SANs: []string{"kcsr.example.com", "10.0.0.7"}, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)})
	testkit.NoError(t, err, "Ensure")

	want := []string{"created cluster CA " + p.Path(CACertFile), "issued " + p.Path(ServingCertFile), "issued " + p.Path(AdminCertFile)}
	if diff := cmp.Diff(want, p.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantModes := map[string]string{".": "0700", CAKeyFile: "0600", CACertFile: "0644", ServingKeyFile: "0600", ServingCertFile: "0644", AdminKeyFile: "0600", AdminCertFile: "0644"}
	if diff := cmp.Diff(wantModes, modes(t, dir, ".", CAKeyFile, CACertFile, ServingKeyFile, ServingCertFile, AdminKeyFile, AdminCertFile)); diff != "" {
		t.Errorf("modes (-want +got):\n%s", diff)
	}
	if !p.CA.IsCA || p.CA.Subject.CommonName != "kcsr-ca" || !p.CA.NotAfter.Equal(testkit.Epoch.Add(caLifetime)) {
		t.Errorf("CA = %s, CA %v, until %s", p.CA.Subject, p.CA.IsCA, p.CA.NotAfter)
	}
	serving := readCert(t, p.Path(ServingCertFile))
	if diff := cmp.Diff([]string{"localhost", "kcsr.example.com"}, serving.DNSNames); diff != "" {
		t.Errorf("serving DNS names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"127.0.0.1", "::1", "10.0.0.7"}, ipStrings(serving.IPAddresses)); diff != "" {
		t.Errorf("serving IPs (-want +got):\n%s", diff)
	}
	admin := readCert(t, p.Path(AdminCertFile))
	if admin.Subject.CommonName != AdminUser || len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != AdminGroup {
		t.Errorf("admin subject = %s", admin.Subject)
	}
	for _, c := range []*x509.Certificate{serving, admin} {
		if err := c.CheckSignatureFrom(p.CA); err != nil {
			t.Errorf("%s is not issued by the cluster CA: %v", c.Subject, err)
		}
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// TestEnsureReusesTheDataDirectory: a restart keeps the CA; a serving certificate that
// does not cover a newly asked SAN is issued again, from the same CA.
func TestEnsureReusesTheDataDirectory(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakePassiveClock(testkit.Epoch)
	first, err := Ensure(Options{Dir: dir, Clock: clk})
	testkit.NoError(t, err, "first Ensure")
	clk.SetTime(testkit.Epoch.Add(time.Hour))
	again, err := Ensure(Options{Dir: dir, SANs: []string{"kcsr.example.com"}, Clock: clk})
	testkit.NoError(t, err, "second Ensure")
	if !again.CA.Equal(first.CA) || string(again.CAPEM) != string(first.CAPEM) {
		t.Error("a restart made a new CA")
	}
	if diff := cmp.Diff([]string{"issued " + again.Path(ServingCertFile)}, again.Events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestEnsureRefuses: the data directory states Ensure must not paper over.
func TestEnsureRefuses(t *testing.T) {
	cases := []struct {
		name    string
		break_  func(t *testing.T, dir string)
		clock   time.Time
		wantErr string
	}{
		{
			name: "a CA key others can read",
			break_: func(t *testing.T, dir string) {
				testkit.NoError(t, os.Chmod(filepath.Join(dir, CAKeyFile), 0o640), "chmod")
			},
			wantErr: "private key DIR/ca.key is readable by group or others (mode 0640); run: chmod 600 DIR/ca.key",
		},
		{
			name: "a leaf key others can write",
			break_: func(t *testing.T, dir string) {
				testkit.NoError(t, os.Chmod(filepath.Join(dir, AdminKeyFile), 0o620), "chmod")
			},
			wantErr: "private key DIR/admin.key is writable by group or others (mode 0620); run: chmod 600 DIR/admin.key",
		},
		{
			name:    "a CA certificate without its key",
			break_:  func(t *testing.T, dir string) { testkit.NoError(t, os.Remove(filepath.Join(dir, CAKeyFile)), "remove") },
			wantErr: "DIR has only one of ca.crt and ca.key; restore the missing file or remove both to create a new CA",
		},
		{
			name:    "an expired CA",
			break_:  func(*testing.T, string) {},
			clock:   testkit.Epoch.Add(caLifetime + time.Hour),
			wantErr: "cluster CA DIR/ca.crt expired on " + testkit.Epoch.Add(caLifetime).Format(time.RFC3339) + "; replace ca.crt and ca.key with a valid CA",
		},
		{
			name: "a CA key that is not the certificate's",
			break_: func(t *testing.T, dir string) {
				other := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
				testkit.NoError(t, os.WriteFile(filepath.Join(dir, CAKeyFile), other.KeyPEM, 0o600), "write")
			},
			wantErr: "cluster CA in DIR: ",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Ensure(Options{Dir: dir, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)})
			testkit.NoError(t, err, "first Ensure")
			tc.break_(t, dir)
			now := testkit.Epoch
			if !tc.clock.IsZero() {
				now = tc.clock
			}
			_, err = Ensure(Options{Dir: dir, Clock: clocktesting.NewFakePassiveClock(now)})
			if err == nil {
				t.Fatal("Ensure succeeded")
			}
			testkit.ErrorContains(t, errors.New(strings.ReplaceAll(err.Error(), dir, "DIR")), tc.wantErr)
		})
	}
}

// TestEnsureWithAnExternalCAKey: with the CA key in an HSM, ca.crt must be in the
// directory and belong to that key, and no ca.key may be there.
func TestEnsureWithAnExternalCAKey(t *testing.T) {
	hsm := testkit.NewCA(t, testkit.NewKey(t, testkit.P256))
	cases := []struct {
		name    string
		files   map[string][]byte
		wantErr string
	}{
		{name: "its certificate", files: map[string][]byte{CACertFile: hsm.CertPEM}},
		{name: "no certificate", wantErr: "the cluster CA key is in the HSM: put its certificate in DIR/ca.crt"},
		{name: "a key file too", files: map[string][]byte{CACertFile: hsm.CertPEM, CAKeyFile: hsm.KeyPEM},
			wantErr: "the cluster CA key is in the HSM, but DIR/ca.key exists too; remove it (keep a backup offline) so the key lives in one place"},
		{name: "another CA's certificate", files: map[string][]byte{CACertFile: testkit.NewCA(t, testkit.NewKey(t, testkit.P256)).CertPEM},
			wantErr: "cluster CA certificate DIR/ca.crt does not belong to the HSM key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tc.files {
				testkit.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600), "write "+name)
			}
			p, err := Ensure(Options{Dir: dir, CASigner: hsm.Key, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)})
			if tc.wantErr != "" {
				if err == nil {
					t.Fatal("Ensure succeeded")
				}
				testkit.ErrorContains(t, errors.New(strings.ReplaceAll(err.Error(), dir, "DIR")), tc.wantErr)
				return
			}
			testkit.NoError(t, err, "Ensure")
			if p.CAKey != hsm.Key || !p.CA.Equal(hsm.Cert) {
				t.Error("the PKI does not use the HSM's CA")
			}
			if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); !os.IsNotExist(err) {
				t.Errorf("a CA key file was written beside the HSM key: %v", err)
			}
			if err := readCert(t, p.Path(AdminCertFile)).CheckSignatureFrom(hsm.Cert); err != nil {
				t.Errorf("the admin certificate is not issued by the HSM key: %v", err)
			}
		})
	}
}
