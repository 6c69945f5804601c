// Package bootstrap holds the default RBAC policy kcsr creates on first start: the
// ClusterRoles and ClusterRoleBindings of kube-apiserver's bootstrap policy that matter to
// a CertificateSigningRequest server, with the same names, rules, labels and annotations
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy upstream), so that kubeadm-style
// bindings and existing tooling work unchanged.
//
// It only describes objects; creating or reconciling them belongs to the server.
package bootstrap

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/csr"
)

// Labels and annotations every default object carries, as upstream.
const (
	// BootstrappingLabelKey marks objects of the default policy.
	BootstrappingLabelKey   = "kubernetes.io/bootstrapping"
	BootstrappingLabelValue = "rbac-defaults"
	// AutoUpdateAnnotationKey set to "true" lets the server reconcile the object on start;
	// an operator sets it to "false" to keep local changes.
	AutoUpdateAnnotationKey = rbacv1.AutoUpdateAnnotationKey
)

// Names of the default ClusterRoles.
const (
	ClusterAdmin                       = "cluster-admin"
	BasicUser                          = "system:basic-user"
	Discovery                          = "system:discovery"
	PublicInfoViewer                   = "system:public-info-viewer"
	NodeBootstrapper                   = "system:node-bootstrapper"
	NodeClient                         = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
	SelfNodeClient                     = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
	KubeAPIServerClientApprover        = "system:certificates.k8s.io:kube-apiserver-client-approver"
	KubeAPIServerClientKubeletApprover = "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver"
	KubeletServingApprover             = "system:certificates.k8s.io:kubelet-serving-approver"
	LegacyUnknownApprover              = "system:certificates.k8s.io:legacy-unknown-approver"
	CertificateController              = "system:controller:certificate-controller"
	// Joiner lets a join-token holder create its CSR and watch for the certificate.
	Joiner = "kcsr:joiner"
	// Revoker may revoke issued certificates; it is not bound to anyone by default.
	Revoker = "kcsr:revoker"
	// SelfRenewal lets a user create CSRs for themselves and read their own CSRs only
	// (pkg/authz/own): what kcsr renew needs. It is not bound to anyone by default.
	SelfRenewal = "kcsr:self-renewal"
)

const (
	legacyGroup         = ""
	authenticationGroup = "authentication.k8s.io"
	authorizationGroup  = "authorization.k8s.io"
	certificatesGroup   = "certificates.k8s.io"
	eventsGroup         = "events.k8s.io"
)

// ClusterRoles returns the default ClusterRoles, in a stable order.
func ClusterRoles() []rbacv1.ClusterRole {
	roles := []rbacv1.ClusterRole{
		{
			// Everything, for the system:masters group.
			ObjectMeta: metav1.ObjectMeta{Name: ClusterAdmin},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("*"), groups("*"), "*"),
				urlRule(verbs("*"), "*"),
			},
		},
		{
			// Enough to negotiate API versions.
			ObjectMeta: metav1.ObjectMeta{Name: Discovery},
			Rules: []rbacv1.PolicyRule{
				urlRule(verbs("get"),
					"/livez", "/readyz", "/healthz",
					"/version", "/version/",
					"/openapi", "/openapi/*",
					"/api", "/api/*",
					"/apis", "/apis/*",
				),
			},
		},
		{
			// Enough for any user to learn about themselves.
			ObjectMeta: metav1.ObjectMeta{Name: BasicUser},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create"), groups(authorizationGroup), "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
				resourceRule(verbs("create"), groups(authenticationGroup), "selfsubjectreviews"),
			},
		},
		{
			// Health and version, also for unauthenticated clients.
			ObjectMeta: metav1.ObjectMeta{Name: PublicInfoViewer},
			Rules: []rbacv1.PolicyRule{
				urlRule(verbs("get"), "/livez", "/readyz", "/healthz", "/version", "/version/"),
			},
		},
		{
			// A node's bootstrap identity: create its client CSR and watch for the
			// certificate.
			ObjectMeta: metav1.ObjectMeta{Name: NodeBootstrapper},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create", "get", "list", "watch"), groups(certificatesGroup), "certificatesigningrequests"),
			},
		},
		{
			// SubjectAccessReview target of the kubelet client auto-approver.
			ObjectMeta: metav1.ObjectMeta{Name: NodeClient},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create"), groups(certificatesGroup), "certificatesigningrequests/nodeclient"),
			},
		},
		{
			// SubjectAccessReview target for a node renewing its own client certificate.
			ObjectMeta: metav1.ObjectMeta{Name: SelfNodeClient},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create"), groups(certificatesGroup), "certificatesigningrequests/selfnodeclient"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: Joiner},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create", "get", "list", "watch"), groups(certificatesGroup), "certificatesigningrequests"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: SelfRenewal},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("create", "get", "list", "watch"), groups(certificatesGroup), "certificatesigningrequests/own"),
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Name: Revoker},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("get", "list", "watch", "revoke"), groups("kcsr.dev"), "issuedcertificates"),
				resourceRule(verbs("update", "patch"), groups("kcsr.dev"), "issuedcertificates/status"),
			},
		},
		approverRole(LegacyUnknownApprover, csr.LegacyUnknownSignerName),
		approverRole(KubeletServingApprover, "kubernetes.io/kubelet-serving"),
		approverRole(KubeAPIServerClientApprover, "kubernetes.io/kube-apiserver-client"),
		approverRole(KubeAPIServerClientKubeletApprover, "kubernetes.io/kube-apiserver-client-kubelet"),
		{
			// kube-controller-manager's csrapproving, csrsigning and csrcleaner loops.
			ObjectMeta: metav1.ObjectMeta{Name: CertificateController},
			Rules: []rbacv1.PolicyRule{
				resourceRule(verbs("get", "list", "watch", "delete"), groups(certificatesGroup), "certificatesigningrequests"),
				resourceRule(verbs("update"), groups(certificatesGroup), "certificatesigningrequests/status", "certificatesigningrequests/approval"),
				namedRule(verbs("approve"), groups(certificatesGroup), "signers", "kubernetes.io/kube-apiserver-client-kubelet"),
				namedRule(verbs("sign"), groups(certificatesGroup), "signers",
					csr.LegacyUnknownSignerName,
					"kubernetes.io/kube-apiserver-client",
					"kubernetes.io/kube-apiserver-client-kubelet",
					"kubernetes.io/kubelet-serving",
				),
				resourceRule(verbs("create"), groups(authorizationGroup), "subjectaccessreviews"),
				resourceRule(verbs("create", "update", "patch"), groups(legacyGroup, eventsGroup), "events"),
			},
		},
	}
	for i := range roles {
		addDefaultMetadata(&roles[i].ObjectMeta)
	}
	return roles
}

// ClusterRoleBindings returns the default ClusterRoleBindings, each named after its role.
// The approver, node and controller roles stay unbound, as upstream (kubeadm or the
// operator binds them).
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bindings := []rbacv1.ClusterRoleBinding{
		groupBinding(ClusterAdmin, user.SystemPrivilegedGroup),
		groupBinding(Discovery, user.AllAuthenticated),
		groupBinding(BasicUser, user.AllAuthenticated),
		groupBinding(PublicInfoViewer, user.AllAuthenticated, user.AllUnauthenticated),
		// kcsr issues bootstrap tokens itself, so it also makes kubeadm's bindings: token
		// holders may create node client CSRs that the kubelet approver then approves,
		// and nodes may renew their own client certificates.
		namedGroupBinding("kcsr:kubelet-bootstrap", NodeBootstrapper, kcsrv1alpha1.BootstrapGroup),
		namedGroupBinding("kcsr:node-autoapprove-bootstrap", NodeClient, kcsrv1alpha1.BootstrapGroup),
		namedGroupBinding("kcsr:node-autoapprove-certificate-rotation", SelfNodeClient, "system:nodes"),
		// Kubernetes' Node authorizer lets nodes create and watch CSRs for rotation; kcsr
		// has no Node authorizer, so RBAC grants the same.
		namedGroupBinding("kcsr:node-certificate-rotation", NodeBootstrapper, "system:nodes"),
		groupBinding(Joiner, kcsrv1alpha1.JoinGroup),
	}
	for i := range bindings {
		addDefaultMetadata(&bindings[i].ObjectMeta)
	}
	return bindings
}

func approverRole(name, signerName string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{
			namedRule(verbs("approve"), groups(certificatesGroup), "signers", signerName),
		},
	}
}

func namedGroupBinding(name, role string, groupNames ...string) rbacv1.ClusterRoleBinding {
	b := groupBinding(role, groupNames...)
	b.Name = name
	return b
}

func groupBinding(role string, groupNames ...string) rbacv1.ClusterRoleBinding {
	b := rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
	}
	for _, g := range groupNames {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	return b
}

func addDefaultMetadata(m *metav1.ObjectMeta) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[BootstrappingLabelKey] = BootstrappingLabelValue
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[AutoUpdateAnnotationKey] = "true"
}

func verbs(v ...string) []string  { return v }
func groups(g ...string) []string { return g }

func resourceRule(verbs, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func namedRule(verbs, groups []string, resource string, names ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: []string{resource}, ResourceNames: names}
}

func urlRule(verbs []string, urls ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls}
}
