package v1alpha1

// OpenAPI model names. The OpenAPI definitions of kcsr's kinds (pkg/generated/openapi) are
// keyed by Go package path; without these methods the scheme would name the kinds
// "dev.kcsr.kcsr.pkg.apis…", the OpenAPI document would carry no
// x-kubernetes-group-version-kind for them, and k8s.io/apiserver's server-side apply type
// converter would find no schema: every write logged "failed to update managedFields"
// and kcsr.dev objects had no managedFields.

const modelPackage = "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1."

// OpenAPIModelName is the key of IssuedCertificate in the generated OpenAPI definitions.
func (IssuedCertificate) OpenAPIModelName() string { return modelPackage + "IssuedCertificate" }

// OpenAPIModelName is the key of IssuedCertificateList in the generated OpenAPI definitions.
func (IssuedCertificateList) OpenAPIModelName() string { return modelPackage + "IssuedCertificateList" }

// OpenAPIModelName is the key of ApprovalPolicy in the generated OpenAPI definitions.
func (ApprovalPolicy) OpenAPIModelName() string { return modelPackage + "ApprovalPolicy" }

// OpenAPIModelName is the key of ApprovalPolicyList in the generated OpenAPI definitions.
func (ApprovalPolicyList) OpenAPIModelName() string { return modelPackage + "ApprovalPolicyList" }

// OpenAPIModelName is the key of BootstrapToken in the generated OpenAPI definitions.
func (BootstrapToken) OpenAPIModelName() string { return modelPackage + "BootstrapToken" }

// OpenAPIModelName is the key of BootstrapTokenList in the generated OpenAPI definitions.
func (BootstrapTokenList) OpenAPIModelName() string { return modelPackage + "BootstrapTokenList" }

// OpenAPIModelName is the key of JoinToken in the generated OpenAPI definitions.
func (JoinToken) OpenAPIModelName() string { return modelPackage + "JoinToken" }

// OpenAPIModelName is the key of JoinTokenList in the generated OpenAPI definitions.
func (JoinTokenList) OpenAPIModelName() string { return modelPackage + "JoinTokenList" }
