package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/signer"
	"kcsr.dev/kcsr/pkg/testkit"
)

// intermediateCA is an upstream that signs every request as it is asked, with an
// intermediate of its root, and answers leaf, intermediate, root (as Vault's ca_chain
// does).
type intermediateCA struct {
	t                  *testing.T
	root, intermediate *testkit.CA
}

func (u intermediateCA) Name() string                                        { return "test upstream" }
func (u intermediateCA) Roots() []*x509.Certificate                          { return []*x509.Certificate{u.root.Cert} }
func (u intermediateCA) Revoke(context.Context, *big.Int, int, string) error { return nil }
func (u intermediateCA) Sign(_ context.Context, req *x509.CertificateRequest, _ []certificatesv1.KeyUsage, ttl time.Duration) ([]*x509.Certificate, error) {
	tmpl := testkit.LeafTemplate(testkit.Serial(u.t), "", testkit.Epoch.Add(-time.Minute), testkit.Epoch.Add(ttl))
	tmpl.Subject = req.Subject
	return []*x509.Certificate{u.intermediate.Issue(u.t, tmpl, req.PublicKey), u.intermediate.Cert, u.root.Cert}, nil
}

// records is an inventory that keeps what is created.
type records map[string]*kcsrv1alpha1.IssuedCertificate

func (r records) Create(_ context.Context, ic *kcsrv1alpha1.IssuedCertificate) (*kcsrv1alpha1.IssuedCertificate, error) {
	if r[ic.Name] != nil {
		return nil, apierrors.NewAlreadyExists(schema.GroupResource{Group: kcsrv1alpha1.GroupName, Resource: "issuedcertificates"}, ic.Name)
	}
	r[ic.Name] = ic
	return ic, nil
}

func (r records) Get(_ context.Context, name string) (*kcsrv1alpha1.IssuedCertificate, error) {
	if r[name] == nil {
		return nil, errors.New("not found")
	}
	return r[name], nil
}

// TestIssueUpstream: a certificate an upstream issued through an intermediate is recorded
// with the intermediate (not the root), annotated with the upstream, marked for login
// only when the signer is configured for it, and the CSR's status carries the
// certificate then the intermediate, which its holder presents.
func TestIssueUpstream(t *testing.T) {
	root := testkit.NewCA(t, testkit.NewKey(t, testkit.P256), testkit.Named("upstream root"))
	up := intermediateCA{t: t, root: root, intermediate: root.NewIntermediate(t, testkit.NewKey(t, testkit.P256))}
	const name = "example.com/step"
	profile := &signer.Profile{SignerName: name, Upstream: up, MaxDuration: time.Hour, Check: func(*x509.CertificateRequest, []certificatesv1.KeyUsage) error { return nil }}
	issuer := &Issuer{Profiles: map[string]*signer.Profile{name: profile}, Clock: clocktesting.NewFakePassiveClock(testkit.Epoch)}
	obj := testkit.CSR("alice", testkit.SetSignerName(name), testkit.SetUsages(certificatesv1.UsageClientAuth))
	req := testkit.ParsedRequest(t, testkit.Request(t, "alice", testkit.WithOrg("dev")))

	inv := records{}
	rec, err := issuer.Issue(context.Background(), inv, obj, profile, req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if got, want := string(rec.Spec.Intermediates), string(pemutil.EncodeCertificate(up.intermediate.Cert.Raw)); got != want {
		t.Errorf("spec.intermediates =\n%s\nwant the intermediate alone:\n%s", got, want)
	}
	if rec.Annotations[kcsrv1alpha1.UpstreamAnnotation] != "test upstream" {
		t.Errorf("annotations %v; want the upstream named", rec.Annotations)
	}
	if rec.Spec.Login {
		t.Error("a record of a signer without upstream.login is marked for login")
	}
	profile.UpstreamLogin = true
	login := obj.DeepCopy()
	login.UID = "uid-login"
	if rec, err := issuer.Issue(context.Background(), inv, login, profile, req); err != nil || !rec.Spec.Login {
		t.Errorf("a record of a signer with upstream.login: %v, spec.login %v; want it marked", err, rec != nil && rec.Spec.Login)
	}
	chain, err := pemutil.ParseCertificates(inventory.Chain(rec))
	if err != nil || len(chain) != 2 || chain[0].Subject.CommonName != "alice" || !chain[1].Equal(up.intermediate.Cert) {
		t.Fatalf("status.certificate: %d certificates, %v; want alice's, then the intermediate", len(chain), err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	inter := x509.NewCertPool()
	inter.AddCert(chain[1])
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: testkit.Epoch, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the status chain does not verify to the upstream's root: %v", err)
	}
}
