package testkit

import (
	"context"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// CSRAttributes is the admission request of u doing op on the CSR name, obj (old is the
// stored one of an update, else nil), through subresource ("" for the main resource), as
// the API server hands it to admission plugins.
func CSRAttributes(name string, obj, old runtime.Object, subresource string, op admission.Operation, u user.Info) admission.Attributes {
	var opts runtime.Object
	switch op {
	case admission.Create:
		opts = &metav1.CreateOptions{}
	case admission.Update:
		opts = &metav1.UpdateOptions{}
	}
	return admission.NewAttributesRecord(obj, old,
		certificatesv1.SchemeGroupVersion.WithKind("CertificateSigningRequest"), "", name,
		certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), subresource,
		op, opts, false, u)
}

// SignerAuthorizer allows verb on the signers (certificates.k8s.io, resource "signers")
// named in allowed and has no opinion on anything else; with err set it fails every check.
func SignerAuthorizer(verb string, err error, allowed ...string) authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		if err != nil {
			return authorizer.DecisionNoOpinion, "", err
		}
		if a.GetVerb() == verb && a.GetAPIGroup() == "certificates.k8s.io" && a.GetResource() == "signers" && a.IsResourceRequest() {
			for _, name := range allowed {
				if a.GetName() == name {
					return authorizer.DecisionAllow, "", nil
				}
			}
		}
		return authorizer.DecisionNoOpinion, "", nil
	})
}

// AdmissionCase is one request to a validating admission plugin built on Authz, and the
// error it must give ("" for none).
type AdmissionCase struct {
	Name    string
	Authz   authorizer.Authorizer
	Attrs   admission.Attributes
	WantErr string
}

// RunAdmissionCases validates each case with the plugin newPlugin builds on its authorizer.
func RunAdmissionCases[P admission.ValidationInterface](t *testing.T, cases []AdmissionCase, newPlugin func(authorizer.Authorizer) P) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			ExpectError(t, newPlugin(tc.Authz).Validate(context.Background(), tc.Attrs, nil), tc.WantErr)
		})
	}
}

// ExpectHandles checks which operations p handles.
func ExpectHandles(t *testing.T, p admission.Interface, want map[admission.Operation]bool) {
	t.Helper()
	for op, w := range want {
		if got := p.Handles(op); got != w {
			t.Errorf("Handles(%s) = %v, want %v", op, got, w)
		}
	}
}
