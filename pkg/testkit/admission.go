package testkit

import (
	"context"

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
