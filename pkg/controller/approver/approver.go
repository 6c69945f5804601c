// Package approver is the controller that approves or denies Pending CSRs without a human,
// and says why every time. In order:
//
//  1. Join tokens: a CSR created with a join token (requester system:join:<id>) whose
//     subject and signer match the token exactly is approved, and the token is spent; a
//     mismatch, a spent or an expired token is denied with the reason.
//  2. Kubelet client certificates, as kube-controller-manager's csrapproving does: a
//     SubjectAccessReview as the requester on certificatesigningrequests/selfnodeclient or
//     /nodeclient.
//  3. Approval policies (pkg/policy), behind guard rails no policy can override.
//
// A CSR nobody decided stays Pending with an annotation that explains why.
package approver

import (
	"context"
	"fmt"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/controller/worker"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/issuance"
)

// Reasons of the conditions this controller writes.
const (
	ReasonJoinToken         = "JoinToken"
	ReasonJoinTokenMismatch = "JoinTokenMismatch"
	ReasonJoinTokenSpent    = "JoinTokenSpent"
	ReasonJoinTokenExpired  = "JoinTokenExpired"
	ReasonJoinTokenUnknown  = "JoinTokenUnknown"
)

// Options configure the controller.
type Options struct {
	// Policies decides by policy (issuance.PolicyEngine.Decide); nil: none.
	Policies issuance.PolicyFunc
	// GuardRails applies the guard rails alone, to join-token requests.
	GuardRails func(ctx context.Context, obj *certificatesv1.CertificateSigningRequest) (issuance.Decision, error)
	// SignerNames, when not empty, limits the approver to CSRs of these signerNames: beside
	// kube-controller-manager (kcsr controller), the kubelet's CSRs are its csrapproving
	// controller's to decide.
	SignerNames []string
}

// Controller approves and denies CSRs.
type Controller struct {
	worker.CSRController
	opts    Options
	decider *issuance.Decider
}

// New returns an approver watching csrs.
func New(deps worker.CSRDeps, opts Options) (*Controller, error) {
	c := &Controller{opts: opts}
	c.decider = &issuance.Decider{Authorize: c.authorize, Policies: opts.Policies}
	var err error
	c.CSRController, err = worker.NewCSRController("approver", deps, c.sync)
	return c, err
}

func (c *Controller) serves(signerName string) bool {
	return len(c.opts.SignerNames) == 0 || slices.Contains(c.opts.SignerNames, signerName)
}

// EnqueueAll asks for every CSR to be looked at again (e.g. after a policy changed).
func (c *Controller) EnqueueAll() {
	csrs, err := c.Lister.List(everything)
	if err != nil {
		return
	}
	for _, obj := range csrs {
		c.Enqueue(obj)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.Lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// As csrapproving: a CSR already approved, denied or issued is left alone.
	if !csr.IsPending(cached) || csr.IsIssued(cached) || !c.serves(cached.Spec.SignerName) {
		return nil
	}
	obj := cached.DeepCopy()

	if id, ok := joinTokenID(obj.Spec.Username); ok {
		return c.handleJoin(ctx, obj, id)
	}

	req, err := csr.DecodeRequest(obj.Spec.Request)
	if err != nil {
		// Validation refused such requests at create; nothing to decide.
		return nil
	}
	d, err := c.decider.Decide(ctx, obj, req)
	if err != nil {
		return err
	}
	if cond, ok := d.Condition(); ok {
		return c.decide(ctx, obj, cond.Type, d.Reason, d.Message)
	}
	return c.explain(ctx, obj, d.Message)
}

// decide writes Approved or Denied through /approval.
func (c *Controller) decide(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType, reason, message string) error {
	csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
		Type:    t,
		Status:  corev1.ConditionTrue,
		Reason:  reason,
		Message: message,
	}, c.Clock.Now())
	_, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, obj.Name, obj, metav1.UpdateOptions{})
	if err == nil {
		klog.FromContext(ctx).Info("Decided CSR", "csr", obj.Name, "decision", t, "reason", reason, "message", message)
		// Events are for what needs a person: a denial. An approval is the condition.
		if t == certificatesv1.CertificateDenied {
			c.Recorder.Event(obj, corev1.EventTypeWarning, string(t), reason+": "+message)
		}
	}
	return err
}

// explain records why a CSR is left for a human, when that changed.
func (c *Controller) explain(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, message string) error {
	if message == "" || obj.Annotations[kcsrv1alpha1.VerdictAnnotation] == message {
		return nil
	}
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[kcsrv1alpha1.VerdictAnnotation] = message
	_, err := c.Client.CertificatesV1().CertificateSigningRequests().Update(ctx, obj, metav1.UpdateOptions{})
	if err == nil {
		c.Recorder.Event(obj, corev1.EventTypeNormal, "AwaitingApproval", message)
	}
	return err
}

// authorize asks, as the CSR's requester, for create on certificatesigningrequests/<sub>.
func (c *Controller) authorize(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, subresource string) (bool, error) {
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range obj.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   obj.Spec.Username,
		UID:    obj.Spec.UID,
		Groups: obj.Spec.Groups,
		Extra:  extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group:       certificatesv1.GroupName,
			Resource:    "certificatesigningrequests",
			Verb:        "create",
			Version:     "*",
			Subresource: subresource,
		},
	}}
	res, err := c.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("subject access review: %w", err)
	}
	return res.Status.Allowed, nil
}
