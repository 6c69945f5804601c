// Package revocation is the admission plugin that guards revocation: changing an
// IssuedCertificate's status.revocation (revoking, or lifting a certificateHold) needs
// the verb "revoke" on kcsr.dev issuedcertificates, which no default role grants. RBAC
// "update" on issuedcertificates/status alone is not enough, as "approve" on signers is
// needed besides "update" on certificatesigningrequests/approval.
//
// It decides who may change a revocation, nothing else. What nobody may do (remove a final
// revocation, change a record's spec, delete a record before its certificate expires,
// create a record that disagrees with its certificate) is the registry's, in
// pkg/registry/kcsr/issuedcertificate: those are invariants of the inventory, which hold
// for system:masters too and do not depend on how the admission chain is configured; the
// package documentation there says why in full.
package revocation

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// PluginName is the plugin's name.
const PluginName = "KcsrRevocation"

// Plugin checks the revoke permission.
type Plugin struct {
	*admission.Handler
	authz authorizer.Authorizer
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin.
func New(authz authorizer.Authorizer) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Update), authz: authz}
}

// Validate refuses a revocation change by a user without "revoke".
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != kcsrv1alpha1.Resource("issuedcertificates") || a.GetSubresource() != "status" {
		return nil
	}
	obj, ok := a.GetObject().(*kcsrv1alpha1.IssuedCertificate)
	old, ok2 := a.GetOldObject().(*kcsrv1alpha1.IssuedCertificate)
	if !ok || !ok2 {
		return admission.NewForbidden(a, fmt.Errorf("expected an IssuedCertificate, got %T", a.GetObject()))
	}
	if apiequality.Semantic.DeepEqual(obj.Status.Revocation, old.Status.Revocation) {
		return nil
	}
	decision, _, err := p.authz.Authorize(ctx, authorizer.AttributesRecord{
		User:            a.GetUserInfo(),
		Verb:            "revoke",
		APIGroup:        kcsrv1alpha1.GroupName,
		APIVersion:      "*",
		Resource:        "issuedcertificates",
		Name:            old.Name,
		ResourceRequest: true,
	})
	if err != nil || decision != authorizer.DecisionAllow {
		return admission.NewForbidden(a, fmt.Errorf("user %q is not permitted to revoke issued certificates (it needs the verb \"revoke\" on issuedcertificates.kcsr.dev, e.g. the kcsr:revoker ClusterRole)", a.GetUserInfo().GetName()))
	}
	return nil
}
