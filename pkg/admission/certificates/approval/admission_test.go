package approval

import (
	"context"
	"errors"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/testkit"
)

var approver = &user.DefaultInfo{Name: "approver"}

func csr(signerName string, conditions ...certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
	obj := testkit.CSR("csr-1", testkit.SetSignerName(signerName))
	obj.Status.Conditions = conditions
	return obj
}

var approved = certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}

func attrs(obj, old runtime.Object, subresource string, op admission.Operation) admission.Attributes {
	return testkit.CSRAttributes("csr-1", obj, old, subresource, op, approver)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		authz   authorizer.Authorizer
		attrs   admission.Attributes
		wantErr string
	}{
		{
			name:  "exact signer allowed",
			authz: testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			attrs: attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
		},
		{
			name:  "domain wildcard allowed",
			authz: testkit.SignerAuthorizer("approve", nil, "example.com/*"),
			attrs: attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
		},
		{
			name:    "denied",
			authz:   testkit.SignerAuthorizer("approve", nil, "example.com/b"),
			attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			name:    "sign does not imply approve",
			authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			name:    "a no-op write through /approval is checked too",
			authz:   testkit.SignerAuthorizer("approve", nil),
			attrs:   attrs(csr("example.com/a"), csr("example.com/a"), "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			name:    "old signerName counts, not the new one",
			authz:   testkit.SignerAuthorizer("approve", nil, "example.com/mine"),
			attrs:   attrs(csr("example.com/mine", approved), csr("example.com/theirs"), "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/theirs"`,
		},
		{
			name:    "authorizer error",
			authz:   testkit.SignerAuthorizer("approve", errors.New("webhook down"), "example.com/a"),
			attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			name:    "not a CSR",
			authz:   testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			attrs:   attrs(&certificatesv1.CertificateSigningRequestList{}, &certificatesv1.CertificateSigningRequestList{}, "approval", admission.Update),
			wantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			name:  "status subresource ignored",
			authz: testkit.SignerAuthorizer("approve", nil),
			attrs: attrs(csr("example.com/a"), csr("example.com/a"), "status", admission.Update),
		},
		{
			name:  "main resource ignored",
			authz: testkit.SignerAuthorizer("approve", nil),
			attrs: attrs(csr("example.com/a"), csr("example.com/a"), "", admission.Update),
		},
		{
			name:  "other resource ignored",
			authz: testkit.SignerAuthorizer("approve", nil),
			attrs: admission.NewAttributesRecord(csr("example.com/a"), csr("example.com/a"),
				certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "csr-1",
				certificatesv1.SchemeGroupVersion.WithResource("clustertrustbundles"), "approval",
				admission.Update, &metav1.UpdateOptions{}, false, approver),
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
	p := New(testkit.SignerAuthorizer("approve", nil))
	for op, want := range map[admission.Operation]bool{admission.Update: true, admission.Create: false, admission.Delete: false, admission.Connect: false} {
		if got := p.Handles(op); got != want {
			t.Errorf("Handles(%s) = %v, want %v", op, got, want)
		}
	}
}
