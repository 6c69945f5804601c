package signing

import (
	"errors"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/testkit"
)

var signer = &user.DefaultInfo{Name: "signer"}

type csrOption = testkit.CSRModifier

func withCondition(cond certificatesv1.CertificateSigningRequestCondition) csrOption {
	return func(c *certificatesv1.CertificateSigningRequest) {
		c.Status.Conditions = append(c.Status.Conditions, cond)
	}
}

func withLabel(k, v string) csrOption {
	return func(c *certificatesv1.CertificateSigningRequest) { c.Labels = map[string]string{k: v} }
}

func csr(signerName string, opts ...csrOption) *certificatesv1.CertificateSigningRequest {
	return testkit.CSR("csr-1", append([]csrOption{testkit.SetSignerName(signerName)}, opts...)...)
}

var (
	approvedAt = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	approved   = certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, LastUpdateTime: approvedAt,
	}
	failed = certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Reason: "SignerValidationFailure",
	}
	cert = []byte("-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n")
)

func attrs(obj, old runtime.Object, subresource string, op admission.Operation) admission.Attributes {
	return testkit.CSRAttributes("csr-1", obj, old, subresource, op, signer)
}

func TestValidate(t *testing.T) {
	const denied = `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to sign requests with signerName "example.com/a"`
	old := csr("example.com/a", withCondition(approved))
	issued := csr("example.com/a", withCondition(approved), testkit.SetCertificate(cert))

	tests := []testkit.AdmissionCase{
		{
			Name:  "exact signer allowed",
			Authz: testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			Attrs: attrs(issued, old, "status", admission.Update),
		},
		{
			Name:  "domain wildcard allowed",
			Authz: testkit.SignerAuthorizer("sign", nil, "example.com/*"),
			Attrs: attrs(issued, old, "status", admission.Update),
		},
		{
			Name:    "denied",
			Authz:   testkit.SignerAuthorizer("sign", nil, "example.com/b"),
			Attrs:   attrs(issued, old, "status", admission.Update),
			WantErr: denied,
		},
		{
			Name:    "approve does not imply sign",
			Authz:   testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			Attrs:   attrs(issued, old, "status", admission.Update),
			WantErr: denied,
		},
		{
			Name:    "authorizer error",
			Authz:   testkit.SignerAuthorizer("sign", errors.New("webhook down"), "example.com/a"),
			Attrs:   attrs(issued, old, "status", admission.Update),
			WantErr: denied,
		},
		{
			Name:    "old signerName counts, not the new one",
			Authz:   testkit.SignerAuthorizer("sign", nil, "example.com/mine"),
			Attrs:   attrs(csr("example.com/mine", testkit.SetCertificate(cert)), csr("example.com/theirs"), "status", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to sign requests with signerName "example.com/theirs"`,
		},
		{
			Name:  "status write without certificate or condition change is not checked",
			Authz: testkit.SignerAuthorizer("sign", nil),
			Attrs: attrs(csr("example.com/a", withCondition(approved), withLabel("a", "b")), old, "status", admission.Update),
		},
		{
			Name:  "unchanged certificate is not checked",
			Authz: testkit.SignerAuthorizer("sign", nil),
			Attrs: attrs(issued.DeepCopy(), issued, "status", admission.Update),
		},
		{
			// Current kube-apiserver also requires sign for condition changes on /status
			// (a signer reporting Failed).
			Name:    "adding a Failed condition is checked",
			Authz:   testkit.SignerAuthorizer("sign", nil),
			Attrs:   attrs(csr("example.com/a", withCondition(approved), withCondition(failed)), old, "status", admission.Update),
			WantErr: denied,
		},
		{
			Name:  "adding a Failed condition with sign",
			Authz: testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			Attrs: attrs(csr("example.com/a", withCondition(approved), withCondition(failed)), old, "status", admission.Update),
		},
		{
			Name:    "not a CSR",
			Authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			Attrs:   attrs(issued, &certificatesv1.CertificateSigningRequestList{}, "status", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			Name:    "new object not a CSR",
			Authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			Attrs:   attrs(&certificatesv1.CertificateSigningRequestList{}, old, "status", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			Name:  "approval subresource ignored",
			Authz: testkit.SignerAuthorizer("sign", nil),
			Attrs: attrs(issued, old, "approval", admission.Update),
		},
		{
			Name:  "main resource ignored",
			Authz: testkit.SignerAuthorizer("sign", nil),
			Attrs: attrs(issued, old, "", admission.Update),
		},
	}
	testkit.RunAdmissionCases(t, tests, New)
}

func TestHandles(t *testing.T) {
	testkit.ExpectHandles(t, New(testkit.SignerAuthorizer("sign", nil)), map[admission.Operation]bool{admission.Update: true, admission.Create: false, admission.Delete: false})
}
