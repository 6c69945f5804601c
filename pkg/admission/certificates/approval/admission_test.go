package approval

import (
	"errors"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

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
	tests := []testkit.AdmissionCase{
		{
			Name:  "exact signer allowed",
			Authz: testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			Attrs: attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
		},
		{
			Name:  "domain wildcard allowed",
			Authz: testkit.SignerAuthorizer("approve", nil, "example.com/*"),
			Attrs: attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
		},
		{
			Name:    "denied",
			Authz:   testkit.SignerAuthorizer("approve", nil, "example.com/b"),
			Attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			Name:    "sign does not imply approve",
			Authz:   testkit.SignerAuthorizer("sign", nil, "example.com/a"),
			Attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			Name:    "a no-op write through /approval is checked too",
			Authz:   testkit.SignerAuthorizer("approve", nil),
			Attrs:   attrs(csr("example.com/a"), csr("example.com/a"), "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			Name:    "old signerName counts, not the new one",
			Authz:   testkit.SignerAuthorizer("approve", nil, "example.com/mine"),
			Attrs:   attrs(csr("example.com/mine", approved), csr("example.com/theirs"), "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/theirs"`,
		},
		{
			Name:    "authorizer error",
			Authz:   testkit.SignerAuthorizer("approve", errors.New("webhook down"), "example.com/a"),
			Attrs:   attrs(csr("example.com/a", approved), csr("example.com/a"), "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: user not permitted to approve requests with signerName "example.com/a"`,
		},
		{
			Name:    "not a CSR",
			Authz:   testkit.SignerAuthorizer("approve", nil, "example.com/a"),
			Attrs:   attrs(&certificatesv1.CertificateSigningRequestList{}, &certificatesv1.CertificateSigningRequestList{}, "approval", admission.Update),
			WantErr: `certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: expected type CertificateSigningRequest, got: *v1.CertificateSigningRequestList`,
		},
		{
			Name:  "status subresource ignored",
			Authz: testkit.SignerAuthorizer("approve", nil),
			Attrs: attrs(csr("example.com/a"), csr("example.com/a"), "status", admission.Update),
		},
		{
			Name:  "main resource ignored",
			Authz: testkit.SignerAuthorizer("approve", nil),
			Attrs: attrs(csr("example.com/a"), csr("example.com/a"), "", admission.Update),
		},
		{
			Name:  "other resource ignored",
			Authz: testkit.SignerAuthorizer("approve", nil),
			Attrs: admission.NewAttributesRecord(csr("example.com/a"), csr("example.com/a"),
				certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", "csr-1",
				certificatesv1.SchemeGroupVersion.WithResource("clustertrustbundles"), "approval",
				admission.Update, &metav1.UpdateOptions{}, false, approver),
		},
	}
	testkit.RunAdmissionCases(t, tests, New)
}

func TestHandles(t *testing.T) {
	testkit.ExpectHandles(t, New(testkit.SignerAuthorizer("approve", nil)), map[admission.Operation]bool{admission.Update: true, admission.Create: false, admission.Delete: false, admission.Connect: false})
}
