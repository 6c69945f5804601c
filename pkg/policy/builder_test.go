package policy

import (
	"crypto"
	"crypto/x509"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/testkit"
)

// csrBuilder builds a CertificateSigningRequest with a real PKCS#10 request: the
// request's key and template, and the object's modifiers.
type csrBuilder struct {
	t    testing.TB
	key  crypto.Signer
	tmpl *x509.CertificateRequest
	mods []testkit.CSRModifier
}

// clientCSR starts a kube-apiserver-client request for CN=cn, O=orgs, from user username
// in groups, with an ECDSA P-256 key.
func clientCSR(t testing.TB, cn string, orgs []string, username string, groups ...string) *csrBuilder {
	return &csrBuilder{t: t, key: testkit.NewKey(t, testkit.P256), tmpl: testkit.Request(t, cn, testkit.WithOrg(orgs...)), mods: []testkit.CSRModifier{
		testkit.SetSignerName(csr.KubeAPIServerClientSignerName),
		testkit.SetUsages(certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth),
		testkit.SetUsername(username), testkit.SetRequesterUID("uid-" + username), testkit.SetGroups(groups...),
	}}
}

// servingCSR starts a kubelet-serving request from node node with DNS and IP SANs.
func servingCSR(t testing.TB, node string, dns []string, ips ...string) *csrBuilder {
	return &csrBuilder{t: t, key: testkit.NewKey(t, testkit.P256), tmpl: testkit.Request(t, "system:node:"+node,
		testkit.WithOrg("system:nodes"), testkit.WithDNS(dns...), testkit.WithIP(ips...)), mods: []testkit.CSRModifier{
		testkit.SetSignerName(csr.KubeletServingSignerName),
		testkit.SetUsages(certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth),
		testkit.SetUsername("system:node:" + node), testkit.SetRequesterUID("uid-" + node),
		testkit.SetGroups("system:nodes", "system:authenticated"),
	}}
}

func (b *csrBuilder) withKey(key crypto.Signer) *csrBuilder { b.key = key; return b }

func (b *csrBuilder) withSignatureAlgorithm(alg x509.SignatureAlgorithm) *csrBuilder {
	testkit.WithSignatureAlgorithm(alg)(b.t, b.tmpl)
	return b
}

func (b *csrBuilder) with(mod testkit.CSRModifier) *csrBuilder {
	b.mods = append(b.mods, mod)
	return b
}

// object returns the CSR object.
func (b *csrBuilder) object(t testing.TB) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	return testkit.CSR("", append([]testkit.CSRModifier{testkit.SetRequest(testkit.RequestPEM(t, b.key, b.tmpl))}, b.mods...)...)
}

// request returns the decoded request, as the approver builds it.
func (b *csrBuilder) request(t testing.TB) *Request {
	t.Helper()
	r, err := NewRequest(b.object(t))
	testkit.NoError(t, err, "NewRequest")
	return r
}

// mustCompile compiles a policy that the test expects to be valid.
func mustCompile(t testing.TB, name string, spec PolicySpec) *Policy {
	t.Helper()
	p, err := Compile(name, spec)
	testkit.NoError(t, err, "Compile "+name)
	return p
}
