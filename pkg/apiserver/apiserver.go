// Package apiserver assembles kcsr's API server from k8s.io/apiserver: the served API
// groups and their storage, the authenticator, the authorizer (system:masters + RBAC), the
// admission chain, audit, OpenAPI and version information. It follows the shape of
// kube-apiserver and sample-apiserver: Config → Complete → New → Run. It owns wiring only;
// the rules live in the registry, authz, admission and validation packages.
package apiserver

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/record"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	authzrbac "kcsr.dev/kcsr/pkg/authz/rbac"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/registry/authentication"
	"kcsr.dev/kcsr/pkg/registry/authorization"
	"kcsr.dev/kcsr/pkg/registry/certificates/certificatesigningrequest"
	"kcsr.dev/kcsr/pkg/registry/coordination/lease"
	"kcsr.dev/kcsr/pkg/registry/core/event"
	"kcsr.dev/kcsr/pkg/registry/kcsr/approvalpolicy"
	"kcsr.dev/kcsr/pkg/registry/kcsr/issuedcertificate"
	"kcsr.dev/kcsr/pkg/registry/kcsr/token"
	registryrbac "kcsr.dev/kcsr/pkg/registry/rbac"
)

// ExtraConfig is what kcsr adds to the generic server configuration.
type ExtraConfig struct {
	// Authorizer and RuleResolver are the server's authorizer; the review endpoints and
	// the RBAC escalation checks use them too.
	Authorizer   authorizer.Authorizer
	RuleResolver authorizer.RuleResolver
	// Escalation refuses RBAC writes that would grant more than the writer holds.
	Escalation *authzrbac.EscalationChecker
	// InRequest, when set, decides and signs CSRs in the requests that create and approve
	// them (docs/design/one-write.md); without it the controllers do all of it.
	InRequest *InRequest
	// OwnCSRs, when set, says whose CSR reads are limited to their own CSRs
	// (pkg/authz/own).
	OwnCSRs certificatesigningrequest.OwnScope
	// InventoryLookup, when set, answers field-selector lists of IssuedCertificates on
	// the fields it indexes (the server's inventory.Index.Lookup).
	InventoryLookup issuedcertificate.Lookup
}

// InRequest is what deciding and signing in the request needs besides the server's own
// authorizer and inventory storage.
type InRequest struct {
	// Decide decides by rule in the create: the kubelet's SubjectAccessReviews and the
	// policies. Without it only approvals made through /approval are signed in the
	// request.
	Decide bool
	// Policies decides by ApprovalPolicy behind the guard rails; Ready says whether the
	// policies are loaded.
	Policies issuance.PolicyFunc
	Ready    func() bool
	// Issuer signs for the signers served in this process.
	Issuer *issuance.Issuer
	// Recorder gets the events a person needs.
	Recorder record.EventRecorder
}

// Config is the whole server configuration.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config with defaults applied; only Complete makes one.
type CompletedConfig struct{ *completedConfig }

// Complete fills in defaults.
func (c *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{
		GenericConfig: c.GenericConfig.Complete(),
		ExtraConfig:   &c.ExtraConfig,
	}}
}

// Server is kcsr's API server.
type Server struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	// Inventory is the IssuedCertificates read from their storage, for the server's
	// inventory.Index.
	Inventory inventory.Source
}

// New builds the server and installs every API group.
func (c CompletedConfig) New() (*Server, error) {
	if c.ExtraConfig.Authorizer == nil || c.ExtraConfig.RuleResolver == nil || c.ExtraConfig.Escalation == nil {
		return nil, fmt.Errorf("apiserver: an authorizer, a rule resolver and an escalation checker are required")
	}
	generic, err := c.GenericConfig.New("kcsr", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	optsGetter := c.GenericConfig.RESTOptionsGetter

	issued, issuedStatus, err := issuedcertificate.NewStorage(Scheme, optsGetter, c.ExtraConfig.InventoryLookup)
	if err != nil {
		return nil, err
	}
	var in *certificatesigningrequest.InRequest
	if x := c.ExtraConfig.InRequest; x != nil {
		recordOpts, err := optsGetter.GetRESTOptions(issued.DefaultQualifiedResource, issued.NewFunc())
		if err != nil {
			return nil, err
		}
		in = &certificatesigningrequest.InRequest{
			Ready:         x.Ready,
			Issuer:        x.Issuer,
			RecordStorage: &certificatesigningrequest.RecordStorage{Options: recordOpts, Key: issued.KeyFunc, Strategy: issued.CreateStrategy},
			Recorder:      x.Recorder,
		}
		if x.Decide {
			in.Decider = &issuance.Decider{Authorize: issuance.Authorizer(c.ExtraConfig.Authorizer), Policies: x.Policies}
		}
	}
	csrStorage, err := certificatesigningrequest.NewStorage(Scheme, optsGetter, in, c.ExtraConfig.OwnCSRs)
	if err != nil {
		return nil, err
	}
	clusterRoles, clusterRoleBindings, err := registryrbac.NewStorage(Scheme, optsGetter, c.ExtraConfig.Escalation)
	if err != nil {
		return nil, err
	}

	bootstrapTokens, err := token.NewBootstrapTokenStorage(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	joinTokens, joinTokenStatus, err := token.NewJoinTokenStorage(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}

	policies, err := approvalpolicy.NewStorage(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}

	leases, err := lease.NewStorage(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}

	groups := []struct {
		group     string
		version   string
		resources map[string]rest.Storage
	}{
		{certificatesv1.GroupName, "v1", map[string]rest.Storage{
			"certificatesigningrequests":          csrStorage.CSR,
			"certificatesigningrequests/status":   csrStorage.Status,
			"certificatesigningrequests/approval": csrStorage.Approval,
		}},
		{rbacv1.GroupName, "v1", map[string]rest.Storage{
			"clusterroles":        clusterRoles,
			"clusterrolebindings": clusterRoleBindings,
		}},
		{authorizationv1.GroupName, "v1", map[string]rest.Storage{
			"subjectaccessreviews":     authorization.NewSubjectAccessReview(c.ExtraConfig.Authorizer),
			"selfsubjectaccessreviews": authorization.NewSelfSubjectAccessReview(c.ExtraConfig.Authorizer),
			"selfsubjectrulesreviews":  authorization.NewSelfSubjectRulesReview(c.ExtraConfig.RuleResolver),
		}},
		{authenticationv1.GroupName, "v1", map[string]rest.Storage{
			"selfsubjectreviews": authentication.NewSelfSubjectReview(),
		}},
		{coordinationv1.GroupName, "v1", map[string]rest.Storage{
			"leases": leases,
		}},
		{kcsrv1alpha1.GroupName, "v1alpha1", map[string]rest.Storage{
			"issuedcertificates":        issued,
			"issuedcertificates/status": issuedStatus,
			"bootstraptokens":           bootstrapTokens,
			"jointokens":                joinTokens,
			"jointokens/status":         joinTokenStatus,
			"approvalpolicies":          policies,
		}},
	}
	var infos []*genericapiserver.APIGroupInfo
	for _, g := range groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.group, Scheme, metav1.ParameterCodec, Codecs)
		info.NegotiatedSerializer = hintingSerializer{Codecs}
		info.VersionedResourcesStorageMap[g.version] = g.resources
		infos = append(infos, &info)
	}
	if err := generic.InstallAPIGroups(infos...); err != nil {
		return nil, err
	}
	// The core group, for Events only.
	events, err := event.NewStorage(Scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	legacy := genericapiserver.NewDefaultAPIGroupInfo("", Scheme, metav1.ParameterCodec, Codecs)
	legacy.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{"events": events}
	if err := generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &legacy); err != nil {
		return nil, err
	}
	return &Server{GenericAPIServer: generic, Inventory: issued.Source()}, nil
}

// Run serves until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	return s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// namerScheme holds only the versioned types, so OpenAPI definitions do not list the
// internal aliases as group-version-kinds.
func namerScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := versionedSchemeBuilder.AddToScheme(s); err != nil {
		panic(err)
	}
	s.AddKnownTypes(corev1.SchemeGroupVersion, &corev1.Event{}, &corev1.EventList{})
	return s
}
