// Package jointoken is the KcsrJoinToken admission plugin: a join identity
// (system:join:<id>, authenticated by a join token) may create a CSR only while its token
// is unspent and unexpired, and while it has no other CSR awaiting a decision. A token is
// spent when the approver approves a CSR with it, so a join identity gets one certificate;
// a CSR it made that was denied (a subject that does not match the token) leaves the token
// unspent, and it may try again under a new name.
//
// What a join identity may read (its own CSRs only) is enforced by the CSR registry; that
// a spent token stops authenticating after a grace period, by pkg/authn.
package jointoken

import (
	"context"
	"fmt"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrcsr "kcsr.dev/kcsr/pkg/csr"
	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
)

// PluginName is the plugin's name.
const PluginName = "KcsrJoinToken"

// Plugin refuses CSRs from join identities whose token is spent, expired or gone, or that
// already have a CSR awaiting a decision.
type Plugin struct {
	*admission.Handler
	tokens kcsrlisters.JoinTokenLister
	csrs   cache.Indexer
	clock  clock.PassiveClock
}

var _ admission.ValidationInterface = &Plugin{}

// RequesterIndex indexes the CSRs of join identities by spec.username; New's csrs must
// have it (IndexJoinRequester).
const RequesterIndex = "kcsr.dev/join-requester"

// IndexJoinRequester is the indexer of RequesterIndex: only join identities' CSRs.
func IndexJoinRequester(obj any) ([]string, error) {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok || !strings.HasPrefix(csr.Spec.Username, kcsrv1alpha1.JoinUserPrefix) {
		return nil, nil
	}
	return []string{csr.Spec.Username}, nil
}

// New returns the plugin, reading tokens and CSRs from informers.
func New(tokens kcsrlisters.JoinTokenLister, csrs cache.Indexer, clk clock.PassiveClock) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create), tokens: tokens, csrs: csrs, clock: clk}
}

var csrs = certificatesv1.Resource("certificatesigningrequests")

// Validate implements admission.ValidationInterface.
func (p *Plugin) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != csrs || a.GetSubresource() != "" || a.GetUserInfo() == nil {
		return nil
	}
	id, ok := strings.CutPrefix(a.GetUserInfo().GetName(), kcsrv1alpha1.JoinUserPrefix)
	if !ok {
		return nil
	}
	jt, err := p.tokens.Get(id)
	switch {
	case apierrors.IsNotFound(err):
		return admission.NewForbidden(a, fmt.Errorf("join token %s no longer exists; ask an administrator for a new one", id))
	case err != nil:
		return admission.NewForbidden(a, fmt.Errorf("join token %s cannot be read: %w", id, err))
	case jt.Status.UsedBy != nil:
		return admission.NewForbidden(a, fmt.Errorf("join token %s was already used for CSR %q at %s; a join token gets one certificate: collect it with the same CSR name, or ask an administrator for a new token",
			id, jt.Status.UsedBy.CSRName, jt.Status.UsedBy.Time.UTC().Format(time.RFC3339)))
	case !p.clock.Now().Before(jt.Spec.Expiration.Time):
		return admission.NewForbidden(a, fmt.Errorf("join token %s expired at %s; ask an administrator for a new one", id, jt.Spec.Expiration.UTC().Format(time.RFC3339)))
	}
	mine, err := p.csrs.ByIndex(RequesterIndex, a.GetUserInfo().GetName())
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("the CSRs of join token %s cannot be read: %w", id, err))
	}
	for _, obj := range mine {
		if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok && kcsrcsr.IsPending(csr) {
			return admission.NewForbidden(a, fmt.Errorf("CSR %q made with join token %s awaits a decision; a join token gets one certificate, so wait for that request (kubectl get csr %s) before sending another", csr.Name, id, csr.Name))
		}
	}
	return nil
}
