package revocation_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// The tests here check the artefacts with the real openssl, as relying parties and the
// acceptance tests of issue 7 do. openssl checks CRL and OCSP times against the wall
// clock, so their PKI is valid around the wall clock rather than testkit.Epoch.

// openSSLCA is a CA for the openssl tests, valid around the wall clock, written to dir:
// root.pem is the trust anchor, ca.pem the issuing CA (the same certificate for a root
// CA).
type openSSLCA struct {
	name string
	ca   *testkit.CA
	kt   testkit.KeyType // of the issuing CA
	dir  string
}

func openSSLCAs(t *testing.T, wall time.Time) []openSSLCA {
	valid := testkit.ValidBetween(wall.Add(-time.Hour), wall.Add(24*time.Hour))
	var out []openSSLCA
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048, testkit.Ed25519} {
		out = append(out, openSSLCA{name: string(kt) + " root", ca: testkit.NewCA(t, testkit.NewKey(t, kt), valid), kt: kt})
	}
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), valid)
	out = append(out, openSSLCA{name: "P-384 intermediate", ca: root.NewIntermediate(t, testkit.NewKey(t, testkit.P384), valid), kt: testkit.P384})
	for i := range out {
		c := &out[i]
		c.dir = t.TempDir()
		writePEM(t, c.dir, "ca.pem", "CERTIFICATE", c.ca.Cert.Raw)
		writePEM(t, c.dir, "root.pem", "CERTIFICATE", c.ca.Chain[len(c.ca.Chain)-1].Raw)
	}
	return out
}

func (c *openSSLCA) path(name string) string { return filepath.Join(c.dir, name) }

func TestOpenSSLVerifyCRL(t *testing.T) {
	wall := time.Now()
	for _, c := range openSSLCAs(t, wall) {
		t.Run(c.name, func(t *testing.T) {
			leafKey := testkit.NewKey(t, testkit.P256)
			issue := func(cn string) *x509.Certificate {
				return c.ca.Issue(t, testkit.LeafTemplate(testkit.Serial(t), cn, wall.Add(-time.Hour), wall.Add(time.Hour)), leafKey.Public())
			}
			revoked, held, good := issue("rahul"), issue("held"), issue("priya")
			a := &revocation.Authority{Backend: c.ca.Backend()}
			crl, err := a.CRL(context.Background(), []revocation.Entry{
				{Serial: revoked.SerialNumber, RevokedAt: wall.Add(-time.Minute), Reason: revocation.KeyCompromise, NotAfter: revoked.NotAfter},
				{Serial: held.SerialNumber, RevokedAt: wall.Add(-time.Minute), Reason: revocation.CertificateHold, NotAfter: held.NotAfter},
			}, big.NewInt(7), wall)
			if err != nil {
				t.Fatal(err)
			}
			writePEM(t, c.dir, "crl.pem", "X509 CRL", crl)

			tests := []struct {
				name     string
				leaf     *x509.Certificate
				wantExit bool // non-zero
				want     string
			}{
				{name: "revoked for keyCompromise", leaf: revoked, wantExit: true, want: "certificate revoked"},
				{name: "on hold", leaf: held, wantExit: true, want: "certificate revoked"},
				{name: "good", leaf: good, want: "leaf.pem: OK"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					dir := t.TempDir()
					writePEM(t, dir, "leaf.pem", "CERTIFICATE", tt.leaf.Raw)
					out, code := openssl(t, dir, "verify", "-crl_check", "-CAfile", c.path("root.pem"), "-untrusted", c.path("ca.pem"), "-CRLfile", c.path("crl.pem"), "leaf.pem")
					if (code != 0) != tt.wantExit || !strings.Contains(out, tt.want) {
						t.Errorf("openssl verify exited %d (want non-zero: %v), want %q in the output:\n%s", code, tt.wantExit, tt.want, out)
					}
				})
			}
			t.Run("openssl crl -text", func(t *testing.T) {
				out, code := openssl(t, c.dir, "crl", "-in", "crl.pem", "-noout", "-text", "-CAfile", "ca.pem")
				for _, w := range []string{"verify OK", "X509v3 CRL Number: \n                7\n", "X509v3 Authority Key Identifier", "Key Compromise", "Certificate Hold"} {
					if !strings.Contains(out, w) {
						t.Errorf("openssl crl output lacks %q", w)
					}
				}
				if code != 0 || t.Failed() {
					t.Errorf("openssl crl exited %d:\n%s", code, out)
				}
			})
		})
	}
}

// ocspFixture is a CA with a running OCSP responder and the certificates the cases ask
// about.
type ocspFixture struct {
	openSSLCA
	url    string
	issued map[string]bool // serials (hex) the CA issued
	set    revoked
	wall   time.Time
}

func newOCSPFixture(t *testing.T, c openSSLCA, wall time.Time, delegated bool) *ocspFixture {
	t.Helper()
	f := &ocspFixture{openSSLCA: c, issued: map[string]bool{}, set: revoked{}, wall: wall}
	a := &revocation.Authority{Backend: c.ca.Backend()}
	if delegated {
		a.ResponderCert, a.ResponderKey = newResponder(t, c.ca, c.kt, wall.Add(-time.Hour), wall.Add(24*time.Hour))
	}
	if err := a.Check(context.Background(), wall); err != nil {
		t.Fatal(err)
	}
	lookup := func(serial *big.Int) revocation.Status {
		e, isRevoked := f.set.get(serial)
		return revocation.Status{Known: f.issued[serial.Text(16)], Revoked: isRevoked, Entry: e}
	}
	srv := httptest.NewServer(revocation.OCSPHandler(a, lookup, time.Now, nil))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// leaf issues a certificate, records it as issued unless unknown, revokes it when
// revoke, and writes it to a new directory as leaf.pem; it returns the directory.
func (f *ocspFixture) leaf(t *testing.T, unknown, revoke bool, reason revocation.Reason, revokedAt time.Time) string {
	t.Helper()
	cert := f.ca.Issue(t, testkit.LeafTemplate(testkit.Serial(t), "rahul", f.wall.Add(-time.Hour), f.wall.Add(time.Hour)), testkit.NewKey(t, testkit.P256).Public())
	if !unknown {
		f.issued[cert.SerialNumber.Text(16)] = true
	}
	if revoke {
		f.set.put(t, revocation.Entry{Serial: cert.SerialNumber, RevokedAt: revokedAt, Reason: reason, NotAfter: cert.NotAfter})
	}
	dir := t.TempDir()
	writePEM(t, dir, "leaf.pem", "CERTIFICATE", cert.Raw)
	return dir
}

func TestOpenSSLOCSP(t *testing.T) {
	wall := time.Now()
	revokedAt := wall.Add(-10 * time.Minute).UTC().Truncate(time.Second)
	tests := []struct {
		name    string
		unknown bool
		revoke  bool
		reason  revocation.Reason
		want    []string
		notWant []string
	}{
		{name: "good", want: []string{"leaf.pem: good", "Cert Status: good"}},
		{
			name: "revoked for keyCompromise", revoke: true, reason: revocation.KeyCompromise,
			want: []string{"leaf.pem: revoked", "Reason: keyCompromise", "Revocation Time: " + revokedAt.Format("Jan _2 15:04:05 2006 GMT")},
		},
		{name: "revoked for superseded", revoke: true, reason: revocation.Superseded, want: []string{"leaf.pem: revoked", "Reason: superseded"}},
		{name: "on hold", revoke: true, reason: revocation.CertificateHold, want: []string{"leaf.pem: revoked", "Reason: certificateHold"}},
		{name: "revoked, reason unspecified", revoke: true, reason: revocation.Unspecified, want: []string{"leaf.pem: revoked"}, notWant: []string{"Reason:"}},
		{name: "never issued", unknown: true, want: []string{"leaf.pem: unknown", "Cert Status: unknown"}},
	}
	for _, c := range openSSLCAs(t, wall) {
		for _, delegated := range []bool{false, true} {
			signer, wantResponder := "CA-signed", "Responder Id: "+openSSLName(c.ca.Cert.Subject.String())
			if delegated {
				signer, wantResponder = "delegated responder", "Responder Id: CN = kcsr test OCSP responder"
			}
			t.Run(c.name+", "+signer, func(t *testing.T) {
				f := newOCSPFixture(t, c, wall, delegated)
				for _, tt := range tests {
					want := append([]string{"Response verify OK", "Next Update:", wantResponder}, tt.want...)
					t.Run(tt.name+", POST", func(t *testing.T) {
						dir := f.leaf(t, tt.unknown, tt.revoke, tt.reason, revokedAt)
						out, code := openssl(t, dir, "ocsp", "-issuer", f.path("ca.pem"), "-cert", "leaf.pem",
							"-url", f.url, "-resp_text", "-CAfile", f.path("root.pem"))
						// openssl sends a nonce and warns when the response does not repeat it.
						checkOCSPOutput(t, out, code, append([]string{"OCSP Nonce:"}, want...), append([]string{"nonce"}, tt.notWant...))
					})
					t.Run(tt.name+", GET", func(t *testing.T) {
						dir := f.leaf(t, tt.unknown, tt.revoke, tt.reason, revokedAt)
						// openssl 3.0 only POSTs: it writes the request, Go GETs it as RFC 6960
						// Appendix A.1 says, and openssl reads and checks the response.
						out, code := openssl(t, dir, "ocsp", "-issuer", f.path("ca.pem"), "-cert", "leaf.pem", "-no_nonce", "-reqout", "req.der")
						if code != 0 {
							t.Fatalf("openssl ocsp -reqout exited %d:\n%s", code, out)
						}
						getOCSP(t, f.url, dir)
						out, code = openssl(t, dir, "ocsp", "-issuer", f.path("ca.pem"), "-cert", "leaf.pem", "-reqin", "req.der",
							"-respin", "resp.der", "-resp_text", "-CAfile", f.path("root.pem"))
						checkOCSPOutput(t, out, code, want, tt.notWant)
					})
				}
				if !delegated {
					// The command of issue 7's acceptance test: enough for a CA-signed
					// response, whose signer is the issuer given (a delegated responder's
					// certificate needs -CAfile to verify).
					t.Run("issuer alone", func(t *testing.T) {
						dir := f.leaf(t, false, true, revocation.KeyCompromise, revokedAt)
						out, code := openssl(t, dir, "ocsp", "-issuer", f.path("ca.pem"), "-cert", "leaf.pem", "-url", f.url)
						checkOCSPOutput(t, out, code, []string{"Response verify OK", "leaf.pem: revoked", "Reason: keyCompromise"}, nil)
					})
				}
			})
		}
	}
}

// getOCSP GETs the request dir/req.der from the responder at base and writes the
// response to dir/resp.der.
func getOCSP(t *testing.T, base, dir string) {
	t.Helper()
	req, err := os.ReadFile(filepath.Join(dir, "req.der"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := readResponse(t)(http.Get(base + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))))
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "application/ocsp-response" {
		t.Fatalf("GET: %s, Content-Type %q; want 200 OK, application/ocsp-response", resp.Status, ct)
	}
	if err := os.WriteFile(filepath.Join(dir, "resp.der"), body, 0o600); err != nil {
		t.Fatal(err)
	}
}

// openSSLName writes a Go distinguished name ("CN=a,O=b") as openssl prints it
// ("O = b, CN = a").
func openSSLName(goName string) string {
	parts := strings.Split(goName, ",")
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.ReplaceAll(strings.Join(parts, ", "), "=", " = ")
}

func checkOCSPOutput(t *testing.T, out string, code int, want, notWant []string) {
	t.Helper()
	if code != 0 {
		t.Errorf("openssl ocsp exited %d", code)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("openssl ocsp output lacks %q", w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(out, w) {
			t.Errorf("openssl ocsp output has %q", w)
		}
	}
	if t.Failed() {
		t.Logf("openssl ocsp output:\n%s", out)
	}
}
