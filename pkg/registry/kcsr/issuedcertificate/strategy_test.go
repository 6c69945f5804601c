package issuedcertificate

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/pki"
	"kcsr.dev/kcsr/pkg/testkit"
)

// testCA issues the certificates of these tests; epoch is their notBefore.
type testCA struct{ ca *testkit.CA }

func newTestCA(t *testing.T) testCA {
	return testCA{testkit.NewCA(t, testkit.NewKey(t, testkit.P256))}
}

// leaf issues a client certificate with one name of each kind, valid for a day from
// testkit.Epoch.
func (c testCA) leaf(t *testing.T) *x509.Certificate {
	t.Helper()
	spiffe, _ := url.Parse("spiffe://example.org/alice")
	return c.ca.Issue(t, &x509.Certificate{
		SerialNumber:   testkit.Serial(t),
		Subject:        pkix.Name{CommonName: "alice", Organization: []string{"dev", "ops"}, OrganizationalUnit: []string{"team-a"}},
		DNSNames:       []string{"alice.example.org"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.7")},
		URIs:           []*url.URL{spiffe},
		EmailAddresses: []string{"alice@example.org"},
		NotBefore:      testkit.Epoch,
		NotAfter:       testkit.Epoch.Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, testkit.NewKey(t, testkit.P256).Public())
}

// record is the record the signer builds for cert, for a CSR named alice.
func record(cert *x509.Certificate) *kcsrv1alpha1.IssuedCertificate {
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", UID: types.UID("0b0c3a4e-5c1d-4d8e-9f10-1a2b3c4d5e6f")},
		Spec:       certificatesv1.CertificateSigningRequestSpec{Username: "alice", Usages: []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth}},
	}
	return inventory.NewRecord(csr, certificatesv1.KubeAPIServerClientSignerName, cert, pemutil.EncodeCertificate(cert.Raw))
}

func errorStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// TestValidateCreate: a record the signer or the server's PKI builds is accepted; one whose
// fields disagree with its certificate is refused, naming each field and the value the
// certificate has; spec.certificate holds one certificate and nothing else.
func TestValidateCreate(t *testing.T) {
	c := newTestCA(t)
	cert := c.leaf(t)
	other := c.leaf(t)
	otherRecord := record(other)
	serial, fp := cert.SerialNumber.Text(16), record(cert).Spec.SHA256Fingerprint
	der, err := x509.MarshalPKCS8PrivateKey(testkit.NewKey(t, testkit.P256))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	keyWithoutEnd, _, _ := strings.Cut(keyPEM, "-----END")
	pkiLeaf := pki.Leaf{Role: "admin", Cert: cert, PEM: pemutil.EncodeCertificate(cert.Raw), Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}}

	tests := []struct {
		name   string
		mutate func(*kcsrv1alpha1.IssuedCertificate)
		pki    bool
		want   []string
	}{
		{name: "as the signer builds it", mutate: func(*kcsrv1alpha1.IssuedCertificate) {}},
		{name: "as the server's PKI builds it", pki: true, mutate: func(*kcsrv1alpha1.IssuedCertificate) {}},
		{
			name: "fingerprint of another certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.SHA256Fingerprint = otherRecord.Spec.SHA256Fingerprint
			},
			want: []string{`spec.sha256Fingerprint: Invalid value: "` + otherRecord.Spec.SHA256Fingerprint + `": does not match spec.certificate, which says "` + fp + `"`},
		},
		{
			name:   "serial of another certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.SerialNumber = otherRecord.Spec.SerialNumber },
			want:   []string{`spec.serialNumber: Invalid value: "` + otherRecord.Spec.SerialNumber + `": does not match spec.certificate, which says "` + serial + `"`},
		},
		{
			name: "the certificate of another record",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = otherRecord.Spec.Certificate
			},
			want: []string{
				`spec.serialNumber: Invalid value: "` + serial + `": does not match spec.certificate, which says "` + otherRecord.Spec.SerialNumber + `"`,
				`spec.sha256Fingerprint: Invalid value: "` + fp + `": does not match spec.certificate, which says "` + otherRecord.Spec.SHA256Fingerprint + `"`,
			},
		},
		{
			name: "subject, issuer, names, key and validity",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				s := &ic.Spec
				s.Issuer = "CN=another CA"
				s.CommonName = "root"
				s.Organizations = []string{"system:masters"}
				s.OrganizationalUnits = nil
				s.DNSNames = append(s.DNSNames, "kubernetes.default.svc")
				s.IPAddresses = []string{"10.0.0.8"}
				s.URIs = nil
				s.EmailAddresses = []string{"root@example.org"}
				s.KeyAlgorithm = "RSA 2048"
				s.NotBefore = metav1.NewTime(testkit.Epoch.Add(-time.Hour))
				s.NotAfter = metav1.NewTime(testkit.Epoch.Add(10 * 365 * 24 * time.Hour))
			},
			want: []string{
				`spec.issuer: Invalid value: "CN=another CA": does not match spec.certificate, which says "CN=kcsr test CA,O=kcsr tests"`,
				`spec.commonName: Invalid value: "root": does not match spec.certificate, which says "alice"`,
				`spec.keyAlgorithm: Invalid value: "RSA 2048": does not match spec.certificate, which says "ECDSA P-256"`,
				`spec.notBefore: Invalid value: "2030-06-01T11:00:00Z": does not match spec.certificate, which says "2030-06-01T12:00:00Z"`,
				`spec.notAfter: Invalid value: "2040-05-29T12:00:00Z": does not match spec.certificate, which says "2030-06-02T12:00:00Z"`,
				`spec.organizations: Invalid value: ["system:masters"]: does not match spec.certificate, which says ["dev" "ops"]`,
				`spec.organizationalUnits: Invalid value: null: does not match spec.certificate, which says ["team-a"]`,
				`spec.dnsNames: Invalid value: ["alice.example.org","kubernetes.default.svc"]: does not match spec.certificate, which says ["alice.example.org"]`,
				`spec.ipAddresses: Invalid value: ["10.0.0.8"]: does not match spec.certificate, which says ["10.0.0.7"]`,
				`spec.uris: Invalid value: null: does not match spec.certificate, which says ["spiffe://example.org/alice"]`,
				`spec.emailAddresses: Invalid value: ["root@example.org"]: does not match spec.certificate, which says ["alice@example.org"]`,
			},
		},
		{
			name: "required fields missing",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.SerialNumber, ic.Spec.SHA256Fingerprint, ic.Spec.SignerName, ic.Spec.CSRUID = "", "", "", ""
				ic.Spec.NotBefore, ic.Spec.NotAfter = metav1.Time{}, metav1.Time{}
			},
			want: []string{
				`spec.signerName: Required value`,
				`spec.csrUID: Required value: the UID of the CSR the certificate answers`,
				`spec.serialNumber: Required value: spec.certificate says "` + serial + `"`,
				`spec.sha256Fingerprint: Required value: spec.certificate says "` + fp + `"`,
				`spec.notBefore: Required value: spec.certificate says "2030-06-01T12:00:00Z"`,
				`spec.notAfter: Required value: spec.certificate says "2030-06-02T12:00:00Z"`,
			},
		},
		{
			name: "a private key after the certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = append(ic.Spec.Certificate, keyPEM...)
			},
			want: []string{`spec.certificate: Invalid value: "": must be one PEM CERTIFICATE block and nothing else; remove what follows the END CERTIFICATE line`},
		},
		{
			name: "a private key before the certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = append([]byte(keyPEM), ic.Spec.Certificate...)
			},
			want: []string{`spec.certificate: Invalid value: "": must be one PEM CERTIFICATE block and nothing else; remove what precedes the BEGIN CERTIFICATE line`},
		},
		{
			name: "a private key with no END line before the certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = append([]byte(keyWithoutEnd), ic.Spec.Certificate...)
			},
			want: []string{`spec.certificate: Invalid value: "": must be one PEM CERTIFICATE block and nothing else; remove what precedes the BEGIN CERTIFICATE line`},
		},
		{
			name: "whitespace around the certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = append(append([]byte("\n\n"), ic.Spec.Certificate...), " \n\n"...)
			},
		},
		{
			name:   "not PEM",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Certificate = cert.Raw },
			want:   []string{`spec.certificate: Invalid value: "": must be one PEM CERTIFICATE block (the issued certificate)`},
		},
		{
			name: "not a certificate",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Certificate = []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
			},
			want: []string{`spec.certificate: Invalid value: "": not a valid X.509 certificate: x509: malformed certificate`},
		},
		{
			name:   "intermediates: the CA that issued it",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Intermediates = c.ca.CertPEM },
		},
		{
			name:   "intermediates: a CA that did not issue it",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Intermediates = newTestCA(t).ca.CertPEM },
			want:   []string{`spec.intermediates: Invalid value: "": certificate 1 (CN=kcsr test CA,O=kcsr tests) did not issue CN=alice,OU=team-a,O=dev+O=ops: x509: ECDSA verification failure`},
		},
		{
			name:   "intermediates: not a CA",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Intermediates = pemutil.EncodeCertificate(other.Raw) },
			want:   []string{`spec.intermediates: Invalid value: "": certificate 1 (CN=alice,OU=team-a,O=dev+O=ops) is not a CA certificate`},
		},
		{
			name: "intermediates: a private key after the CA",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Intermediates = append(append([]byte{}, c.ca.CertPEM...), keyPEM...)
			},
			want: []string{`spec.intermediates: Invalid value: "": PEM block 2 is a "PRIVATE KEY"; the file must hold only CERTIFICATE blocks (keep the key in its own file)`},
		},
		{
			name: "intermediates: text around the CA",
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) {
				ic.Spec.Intermediates = append([]byte("MIGHAgEA\n"), c.ca.CertPEM...)
			},
			want: []string{`spec.intermediates: Invalid value: "": must be PEM CERTIFICATE blocks and nothing else: no text, headers or other blocks around them`},
		},
		{
			name:   "a PKI record that names a CSR",
			pki:    true,
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.CSRName, ic.Spec.CSRUID = "alice", "uid-1" },
			want: []string{
				`spec.csrName: Invalid value: "alice": must be empty for signer kcsr.dev/pki: its certificates answer no CSR`,
				`spec.csrUID: Invalid value: "uid-1": must be empty for signer kcsr.dev/pki: its certificates answer no CSR`,
			},
		},
		{
			name:   "a PKI record with another requester",
			pki:    true,
			mutate: func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Requester.Username = "alice" },
			want:   []string{`spec.requester.username: Invalid value: "alice": must be system:kcsr:pki for signer kcsr.dev/pki`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic := record(cert)
			if tt.pki {
				ic = inventory.NewPKIRecord(pkiLeaf)
			}
			tt.mutate(ic)
			got := errorStrings(strategy{}.Validate(context.Background(), ic))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			for _, e := range got {
				if strings.Contains(e, "MIGHAgEA") {
					t.Errorf("an error repeats the key material: %s", e)
				}
			}
		})
	}
}

// TestSpecIsImmutable: the main resource changes metadata only, and never status.
func TestSpecIsImmutable(t *testing.T) {
	c := newTestCA(t)
	old := record(c.leaf(t))
	old.ResourceVersion = "7"

	relabelled := old.DeepCopy()
	relabelled.Labels["team"] = "a"
	if errs := (strategy{}).ValidateUpdate(context.Background(), relabelled, old); len(errs) != 0 {
		t.Errorf("a label change was refused: %v", errs)
	}

	for name, mutate := range map[string]func(*kcsrv1alpha1.IssuedCertificate){
		"fingerprint":  func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.SHA256Fingerprint = strings.Repeat("0", 64) },
		"certificate":  func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Certificate = record(c.leaf(t)).Spec.Certificate },
		"notAfter":     func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.NotAfter = metav1.NewTime(testkit.Epoch) },
		"organization": func(ic *kcsrv1alpha1.IssuedCertificate) { ic.Spec.Organizations = nil },
	} {
		t.Run(name, func(t *testing.T) {
			obj := old.DeepCopy()
			mutate(obj)
			got := errorStrings((strategy{}).ValidateUpdate(context.Background(), obj, old))
			if diff := cmp.Diff([]string{"spec: Forbidden: an issued certificate's record cannot change"}, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}

	// A status sent to the main resource is dropped: revocations go through /status.
	revoked := old.DeepCopy()
	revoked.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise", Time: metav1.NewTime(testkit.Epoch)}
	unrevoked := revoked.DeepCopy()
	unrevoked.Status.Revocation = nil
	(strategy{}).PrepareForUpdate(context.Background(), unrevoked, revoked)
	if diff := cmp.Diff(revoked.Status, unrevoked.Status); diff != "" {
		t.Errorf("an update of the main resource changed the revocation (-want +got):\n%s", diff)
	}
}

// TestRevocationIsFinal: through /status, a revocation can be made, and a certificateHold
// lifted or made final; any other revocation never changes, and spec never does.
func TestRevocationIsFinal(t *testing.T) {
	c := newTestCA(t)
	base := record(c.leaf(t))
	base.ResourceVersion = "7"
	at := metav1.NewTime(testkit.Epoch)
	revocation := func(reason string) *kcsrv1alpha1.Revocation {
		return &kcsrv1alpha1.Revocation{Reason: reason, Time: at, RevokedBy: "kcsr-admin"}
	}
	final := `status.revocation: Forbidden: certificate ` + base.Spec.SerialNumber + ` was revoked (keyCompromise) on 2030-06-01T12:00:00Z; a revocation is final, only certificateHold can be lifted`
	tests := []struct {
		name     string
		old, new *kcsrv1alpha1.Revocation
		want     []string
	}{
		{name: "revoke", new: revocation("keyCompromise")},
		{name: "hold", new: revocation("certificateHold")},
		{name: "lift a hold", old: revocation("certificateHold")},
		{name: "make a hold final", old: revocation("certificateHold"), new: revocation("superseded")},
		{name: "remove a revocation", old: revocation("keyCompromise"), want: []string{final}},
		{name: "change the reason", old: revocation("keyCompromise"), new: revocation("certificateHold"), want: []string{final}},
		{name: "change the time", old: revocation("keyCompromise"), new: &kcsrv1alpha1.Revocation{Reason: "keyCompromise", Time: metav1.NewTime(testkit.Epoch.Add(time.Hour)), RevokedBy: "kcsr-admin"}, want: []string{final}},
		{name: "unknown reason", new: revocation("stolen"), want: []string{`status.revocation.reason: Unsupported value: "stolen": supported values: "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "aACompromise"`}},
	}
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "kcsr-admin"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := base.DeepCopy()
			old.Status.Revocation = tt.old
			obj := base.DeepCopy()
			obj.Status.Revocation = tt.new
			// A status write carrying another spec changes the status only.
			obj.Spec.CommonName, obj.Spec.Organizations = "root", []string{"system:masters"}
			s := statusStrategy{}
			s.PrepareForUpdate(ctx, obj, old)
			if diff := cmp.Diff(old.Spec, obj.Spec); diff != "" {
				t.Errorf("a status write changed spec (-want +got):\n%s", diff)
			}
			got := errorStrings(s.ValidateUpdate(ctx, obj, old))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeletable: no record is deleted before its certificate expires; the refusal names
// the certificate, the revocation and the time after which it can be deleted.
func TestDeletable(t *testing.T) {
	c := newTestCA(t)
	ic := record(c.leaf(t)) // valid until Epoch + 24h
	serial := ic.Spec.SerialNumber
	revoked := ic.DeepCopy()
	revoked.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise", Time: metav1.NewTime(testkit.Epoch.Add(time.Hour))}
	tests := []struct {
		name string
		ic   *kcsrv1alpha1.IssuedCertificate
		now  time.Time
		want string
	}{
		{
			name: "revoked, not expired",
			ic:   revoked,
			now:  testkit.Epoch.Add(2 * time.Hour),
			want: "certificate " + serial + " (CN=alice) was revoked (keyCompromise) on 2030-06-01T13:00:00Z and expires at 2030-06-02T12:00:00Z; its record is what keeps it refused at login and listed in the CRL and OCSP, so it cannot be deleted before it expires: delete it after 2030-06-02T12:00:00Z",
		},
		{
			name: "valid",
			ic:   ic,
			now:  testkit.Epoch.Add(2 * time.Hour),
			want: "certificate " + serial + " (CN=alice) is valid until 2030-06-02T12:00:00Z; without its record it could no longer be revoked, so the record cannot be deleted before it expires: revoke it (kcsr revoke " + serial + ") if it must stop working, and delete the record after 2030-06-02T12:00:00Z",
		},
		{name: "revoked, at notAfter", ic: revoked, now: testkit.Epoch.Add(24 * time.Hour), want: "certificate " + serial + " (CN=alice) was revoked (keyCompromise) on 2030-06-01T13:00:00Z and expires at 2030-06-02T12:00:00Z; its record is what keeps it refused at login and listed in the CRL and OCSP, so it cannot be deleted before it expires: delete it after 2030-06-02T12:00:00Z"},
		{name: "revoked, expired", ic: revoked, now: testkit.Epoch.Add(24*time.Hour + time.Second)},
		{name: "valid, expired", ic: ic, now: testkit.Epoch.Add(48 * time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testkit.ExpectError(t, Deletable(tt.ic, tt.now), tt.want)
		})
	}
}

// TestDeleteGuard: Delete and DeleteCollection hand the store a validation that refuses
// an unexpired record with 403 before admission is asked, and asks admission otherwise.
func TestDeleteGuard(t *testing.T) {
	c := newTestCA(t)
	ic := record(c.leaf(t))
	ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise", Time: metav1.NewTime(testkit.Epoch)}
	admitted := 0
	admission := func(context.Context, runtime.Object) error { admitted++; return nil }

	r := &REST{now: func() time.Time { return testkit.Epoch.Add(time.Hour) }}
	err := r.guard(admission)(context.Background(), ic)
	want := `issuedcertificates.kcsr.dev "` + ic.Name + `" is forbidden: certificate ` + ic.Spec.SerialNumber + ` (CN=alice) was revoked (keyCompromise) on 2030-06-01T12:00:00Z and expires at 2030-06-02T12:00:00Z; its record is what keeps it refused at login and listed in the CRL and OCSP, so it cannot be deleted before it expires: delete it after 2030-06-02T12:00:00Z`
	if err == nil || err.Error() != want {
		t.Errorf("guard before notAfter = %v, want %s", err, want)
	}
	if !apierrors.IsForbidden(err) || admitted != 0 {
		t.Errorf("want a 403 without asking admission; admission asked %d times, err %v", admitted, err)
	}

	r.now = func() time.Time { return testkit.Epoch.Add(25 * time.Hour) }
	if err := r.guard(admission)(context.Background(), ic); err != nil || admitted != 1 {
		t.Errorf("guard after notAfter = %v (admission asked %d times), want nil and admission asked once", err, admitted)
	}
	if err := r.guard(nil)(context.Background(), ic); err != nil {
		t.Errorf("guard without admission after notAfter = %v", err)
	}
}
