package apiserver

import (
	"testing"

	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/kube-openapi/pkg/validation/spec"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/generated/openapi"
)

// TestOpenAPIGroupVersionKinds: every served kind's OpenAPI definition carries its
// x-kubernetes-group-version-kind, which server-side apply's type converter looks kinds up
// by. Without it kcsr.dev objects got no managedFields.
func TestOpenAPIGroupVersionKinds(t *testing.T) {
	namer := openapinamer.NewDefinitionNamer(namerScheme())
	defs := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref { return spec.MustCreateRef(path) })
	for _, name := range []string{
		kcsrv1alpha1.IssuedCertificate{}.OpenAPIModelName(),
		kcsrv1alpha1.ApprovalPolicy{}.OpenAPIModelName(),
		kcsrv1alpha1.BootstrapToken{}.OpenAPIModelName(),
		kcsrv1alpha1.JoinToken{}.OpenAPIModelName(),
		"io.k8s.api.certificates.v1.CertificateSigningRequest",
		"io.k8s.api.coordination.v1.Lease",
	} {
		if _, ok := defs[name]; !ok {
			t.Errorf("%s: no generated OpenAPI definition under this name", name)
		}
		if _, ext := namer.GetDefinitionName(name); ext["x-kubernetes-group-version-kind"] == nil {
			t.Errorf("%s: no x-kubernetes-group-version-kind", name)
		}
	}
}
