// Package issuance is the KcsrIssuanceAuthority admission plugin: a kcsr.dev object that
// can cause a certificate to be issued is an approval made in advance, so writing it needs
// what approving needs, the verb "approve" on the signers it concerns
// (signers.certificates.k8s.io, checked as CertificateApproval checks it, "<domain>/*"
// included). RBAC on the resource alone is not enough, as RBAC update on
// certificatesigningrequests/approval alone is not enough to approve.
//
//   - ApprovalPolicy: create, update of the spec, and delete (removing a Deny policy
//     lets others approve) need "approve" on every entry of spec.signerNames, old and new;
//     a "domain/*" entry needs "approve" on that wildcard.
//
//   - JoinToken: create and update of the spec need "approve" on spec.signerName, old and
//     new. A token may not name a protected group (system:masters and the guard rails'
//     protectedGroups): a person approves those, one request at a time.
//
//   - BootstrapToken: create and update of the spec need "approve" on
//     kubernetes.io/kube-apiserver-client-kubelet, since its holder's node client CSRs are
//     approved by the nodeclient rule.
//
//   - IssuedCertificate with spec.login (a certificate an upstream login signer issued
//     for login): create needs "approve" and "sign" on spec.signerName. kcsr server
//     admits an upstream CA's certificate only when such a record of it exists
//     (pkg/authn), so writing one is approving and issuing a login at once. Other
//     records, created by anyone RBAC allows, only describe certificates (and make them
//     revocable).
//
// Deleting a token, and metadata-only updates, need nothing more than RBAC: they cannot
// cause issuance. The plugin reads no storage.
package issuance

import (
	"context"
	"fmt"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"kcsr.dev/kcsr/pkg/admission/certificates"
	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/authz/bootstrap"
	"kcsr.dev/kcsr/pkg/policy"
)

// PluginName is the plugin's name.
const PluginName = "KcsrIssuanceAuthority"

// Plugin checks that writers of issuance-causing objects may approve.
type Plugin struct {
	*admission.Handler
	authz      authorizer.Authorizer
	guardRails policy.GuardRails
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin. guardRails says which groups are protected.
func New(authz authorizer.Authorizer, guardRails policy.GuardRails) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete), authz: authz, guardRails: guardRails}
}

var (
	policies           = kcsrv1alpha1.Resource("approvalpolicies")
	joinTokens         = kcsrv1alpha1.Resource("jointokens")
	bootstrapTokens    = kcsrv1alpha1.Resource("bootstraptokens")
	issuedCertificates = kcsrv1alpha1.Resource("issuedcertificates")
)

// Validate implements admission.ValidationInterface.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" {
		return nil
	}
	var signers []string
	switch a.GetResource().GroupResource() {
	case policies:
		signers = p.policySigners(a)
	case joinTokens:
		if err := p.checkJoinToken(a); err != nil {
			return err
		}
		signers = joinTokenSigners(a)
	case bootstrapTokens:
		if a.GetOperation() != admission.Delete && specChanged[*kcsrv1alpha1.BootstrapToken](a, func(t *kcsrv1alpha1.BootstrapToken) any { return t.Spec }) {
			signers = []string{certificatesv1.KubeAPIServerClientKubeletSignerName}
		}
	case issuedCertificates:
		return p.checkRecord(ctx, a)
	default:
		return nil
	}
	var missing []string
	for _, s := range signers {
		if !slices.Contains(missing, s) && !certificates.IsAuthorizedForSignerName(ctx, p.authz, a.GetUserInfo(), "approve", s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return admission.NewForbidden(a, fmt.Errorf("user %q may not %s %s %q: it can cause certificates of signer %s to be issued, which needs the verb \"approve\" on signers.certificates.k8s.io %s; bind the user to a ClusterRole granting it (such as %s), or ask someone who may approve those requests",
		a.GetUserInfo().GetName(), strings.ToLower(string(a.GetOperation())), a.GetKind().Kind, a.GetName(),
		quoteAll(missing), alternatives(missing), exampleRole(missing[0])))
}

// policySigners are the signers an ApprovalPolicy write affects.
func (p *Plugin) policySigners(a admission.Attributes) []string {
	obj, _ := a.GetObject().(*kcsrv1alpha1.ApprovalPolicy)
	old, _ := a.GetOldObject().(*kcsrv1alpha1.ApprovalPolicy)
	switch a.GetOperation() {
	case admission.Create:
		if obj != nil {
			return obj.Spec.SignerNames
		}
	case admission.Update:
		if obj != nil && old != nil && !apiequality.Semantic.DeepEqual(obj.Spec, old.Spec) {
			return append(slices.Clone(old.Spec.SignerNames), obj.Spec.SignerNames...)
		}
	case admission.Delete:
		if old != nil {
			return old.Spec.SignerNames
		}
	}
	return nil
}

// joinTokenSigners are the signers a JoinToken create or spec update affects.
func joinTokenSigners(a admission.Attributes) []string {
	obj, _ := a.GetObject().(*kcsrv1alpha1.JoinToken)
	old, _ := a.GetOldObject().(*kcsrv1alpha1.JoinToken)
	switch {
	case a.GetOperation() == admission.Create && obj != nil:
		return []string{obj.Spec.SignerName}
	case a.GetOperation() == admission.Update && obj != nil && old != nil && !apiequality.Semantic.DeepEqual(obj.Spec, old.Spec):
		return []string{old.Spec.SignerName, obj.Spec.SignerName}
	}
	return nil
}

// checkRecord refuses the create of a login record (spec.login) to a user without both
// "approve" and "sign" on its signer.
func (p *Plugin) checkRecord(ctx context.Context, a admission.Attributes) error {
	obj, ok := a.GetObject().(*kcsrv1alpha1.IssuedCertificate)
	if !ok || a.GetOperation() != admission.Create || !obj.Spec.Login {
		return nil
	}
	s := obj.Spec.SignerName
	var missing []string
	for _, verb := range []string{"approve", "sign"} {
		if !certificates.IsAuthorizedForSignerName(ctx, p.authz, a.GetUserInfo(), verb, s) {
			missing = append(missing, fmt.Sprintf("%q", verb))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return admission.NewForbidden(a, fmt.Errorf("user %q may not create an IssuedCertificate with spec.login for signer %q: kcsr server admits an upstream CA's certificate for login when such a record of it exists, so the record approves and issues a login, which needs the verbs \"approve\" and \"sign\" on signers.certificates.k8s.io %s (missing: %s); kcsr's signer records the certificates it issues itself",
		a.GetUserInfo().GetName(), s, alternatives([]string{s}), strings.Join(missing, ", ")))
}

// checkJoinToken refuses a join token for a protected group.
func (p *Plugin) checkJoinToken(a admission.Attributes) error {
	obj, ok := a.GetObject().(*kcsrv1alpha1.JoinToken)
	if !ok || a.GetOperation() == admission.Delete {
		return nil
	}
	for _, g := range obj.Spec.Groups {
		if p.guardRails.IsProtected(g) {
			return admission.NewForbidden(a, fmt.Errorf("spec.groups: %q is a protected group: certificates for it are never approved automatically, so a join token may not grant it; leave the group out, or have the user send a CSR that a cluster administrator approves", g))
		}
	}
	return nil
}

// specChanged reports whether a create, or an update that changes the spec.
func specChanged[T runtime.Object](a admission.Attributes, spec func(T) any) bool {
	obj, ok := a.GetObject().(T)
	if !ok {
		return false
	}
	if a.GetOperation() == admission.Create {
		return true
	}
	old, ok := a.GetOldObject().(T)
	return !ok || !apiequality.Semantic.DeepEqual(spec(obj), spec(old))
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// alternatives names, for each signer, what grants approve on it: the name or its domain's
// wildcard.
func alternatives(names []string) string {
	alts := make([]string, len(names))
	for i, n := range names {
		domain, _, _ := strings.Cut(n, "/")
		if wildcard := domain + "/*"; wildcard != n {
			alts[i] = fmt.Sprintf("%q (or %q)", n, wildcard)
		} else {
			alts[i] = fmt.Sprintf("%q", n)
		}
	}
	return strings.Join(alts, ", ")
}

// exampleRole names a default ClusterRole that grants approve on signerName, or describes
// one to create.
func exampleRole(signerName string) string {
	switch signerName {
	case certificatesv1.KubeAPIServerClientSignerName:
		return bootstrap.KubeAPIServerClientApprover
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		return bootstrap.KubeAPIServerClientKubeletApprover
	case certificatesv1.KubeletServingSignerName:
		return bootstrap.KubeletServingApprover
	}
	return fmt.Sprintf("a role with verbs [approve] on resource signers, apiGroup certificates.k8s.io, resourceNames [%q]", signerName)
}
