package signing

import (
	"context"
	"errors"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

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

	tests := []struct {
		name    string
		authz   authorizer.Authorizer
		attrs   admission.Attributes
		wantErr string
	}{
		{
			name:  "exact signer allowed",
			authz: testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			attrs: attrs(issued, old, "status", admission.Update),
		},
		{
			name:  "domain wildcard allowed",
			authz: testkit.SignerAuthorizer("sign", nil, "example.com/*"),
			attrs: attrs(issued, old, "status", admission.Update),
		},
		{
			name:    "denied",
			authz:   testkit.SignerAuthorizer("sign", nil, "example.com/b"),
			attrs:   attrs(issued, old, "status", admission.Update),
			wantErr: denied,
		},
		{
			name:    "approve does not imply sign",
			authz:   testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			attrs:   attrs(issued, old, "status", admission.Update),
			wantErr: denied,
		},
		{
			name:    "authorizer error",
			authz:   testkit.SignerAuthorizer("sign", errors.New("webhook down"), "example.com/a"),
			attrs:   attrs(issued, old, "status", admission.Update),
			wantErr: denied,
		},
		{
			name:    "old signerName counts, not the new one",
			authz:   testkit.SignerAuthorizer("sign", nil, "example.com/mine"),
			attrs:   attrs(csr("example.com/mine", testkit.SetCertificate(cert)), csr("example.com/theirs"), "status", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to sign requests with signerName "example.com/theirs"`,
		},
		{
			name:  "status write without certificate or condition change is not checked",
			authz: testkit.SignerAuthorizer("sign", nil),
			attrs: attrs(csr("example.com/a", withCondition(approved), withLabel("a", "b")), old, "status", admission.Update),
		},
		{
			name:  "unchanged certificate is not checked",
			authz: testkit.SignerAuthorizer("sign", nil),
			attrs: attrs(issued.DeepCopy(), issued, "status", admission.Update),
		},
		{
			// Current kube-apiserver also requires sign for condition changes on /status
			// (a signer reporting Failed).
			name:    "adding a Failed condition is checked",
			authz:   testkit.SignerAuthorizer("sign", nil),
			attrs:   attrs(csr("example.com/a", withCondition(approved), withCondition(failed)), old, "status", admission.Update),
			wantErr: denied,
		},
		{
			name:  "adding a Failed condition with sign",
			authz: testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			attrs: attrs(csr("example.com/a", withCondition(approved), withCondition(failed)), old, "status", admission.Update),
		},
		{
			name:    "not a CSR",
			authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			attrs:   attrs(issued, &certificatesv1.CertificateSigningRequestList{}, "status", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			name:    "new object not a CSR",
			authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			attrs:   attrs(&certificatesv1.CertificateSigningRequestList{}, old, "status", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			name:  "approval subresource ignored",
			authz: testkit.SignerAuthorizer("sign", nil),
			attrs: attrs(issued, old, "approval", admission.Update),
		},
		{
			name:  "main resource ignored",
			authz: testkit.SignerAuthorizer("sign", nil),
			attrs: attrs(issued, old, "", admission.Update),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.authz)
			testkit.ExpectError(t, p.Validate(context.Background(), tc.attrs, nil), tc.wantErr)
		})
	}
}

func TestHandles(t *testing.T) {
	p := New(testkit.SignerAuthorizer("sign", nil))
	for op, want := range map[admission.Operation]bool{admission.Update: true, admission.Create: false, admission.Delete: false} {
		if got := p.Handles(op); got != want {
			t.Errorf("Handles(%s) = %v, want %v", op, got, want)
		}
	}
}
