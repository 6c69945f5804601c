// Package owncsr is the KcsrOwnCSR admission plugin: a user who may create CSRs only
// through certificatesigningrequests/own (the kcsr:self-renewal role, pkg/authz/own)
// creates CSRs for themselves only: the request's CN is their user name, every O one of
// their groups, and it names no one else (no subject alternative name). Renewing one's
// own certificate passes; asking for someone else's identity does not.
package owncsr

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"kcsr.dev/kcsr/pkg/admission/certificates"
	"kcsr.dev/kcsr/pkg/authz/own"
	kcsrcsr "kcsr.dev/kcsr/pkg/csr"
)

// PluginName is the plugin's name.
const PluginName = "KcsrOwnCSR"

// Plugin holds self-renewers to their own identity.
type Plugin struct {
	*admission.Handler
	own own.Authorizer
}

var _ admission.ValidationInterface = (*Plugin)(nil)

// New returns the plugin over the authorizer that tells who is held to their own CSRs.
func New(a own.Authorizer) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create), own: a}
}

// Validate refuses a CSR a self-renewer creates for another identity.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() != admission.Create || a.GetSubresource() != "" || a.GetResource().GroupResource() != certificates.Resource {
		return nil
	}
	u := a.GetUserInfo()
	if u == nil || !p.own.Scoped(ctx, u, "create") {
		return nil
	}
	obj, ok := a.GetObject().(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return admission.NewForbidden(a, fmt.Errorf("expected type CertificateSigningRequest, got: %T", a.GetObject()))
	}
	req, err := kcsrcsr.ParseRequest(obj.Spec.Request)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("failed to parse CSR: %v", err))
	}
	var wrong []string
	if req.Subject.CommonName != u.GetName() {
		wrong = append(wrong, fmt.Sprintf("the CN must be your user name %q (it is %q)", u.GetName(), req.Subject.CommonName))
	}
	for _, o := range req.Subject.Organization {
		if !slices.Contains(u.GetGroups(), o) || o == user.AllAuthenticated {
			wrong = append(wrong, fmt.Sprintf("O %q is not one of your groups %v", o, groupsOf(u)))
		}
	}
	if n := len(req.DNSNames) + len(req.IPAddresses) + len(req.URIs) + len(req.EmailAddresses); n > 0 {
		wrong = append(wrong, "subject alternative names are not allowed: they would name more than you")
	}
	if len(wrong) == 0 {
		return nil
	}
	return admission.NewForbidden(a, fmt.Errorf("you may create CSRs only for yourself (your rights on CSRs come from %s/%s, the kcsr:self-renewal role): %s",
		"certificatesigningrequests", own.Subresource, strings.Join(wrong, "; ")))
}

// groupsOf are u's groups but system:authenticated, which every user has and no
// certificate carries.
func groupsOf(u user.Info) []string {
	return slices.DeleteFunc(slices.Clone(u.GetGroups()), func(g string) bool { return g == user.AllAuthenticated })
}
