package certificatesigningrequest

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/certificate"
	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/registry/subresource"
)

// InRequest decides and signs CSRs inside the requests that create and approve them
// (docs/design/one-write.md). A CSR a rule decides at create (the kubelet's
// nodeclient/selfnodeclient SubjectAccessReviews, an ApprovalPolicy, a guard rail) is
// stored once, already Approved or Denied, and issued when this server serves its signer;
// a person's approval through /approval is stored with the certificate. The work runs
// after the strategy's validation and after admission, on the object about to be stored,
// with the same issuance.Decider and issuance.Issuer as the controllers, so a rule decides
// and a signer signs the same on either path.
//
// What it does not finish is left to the controllers, which see the CSR as they would
// without it: a join token (the approver spends it), a CA that cannot sign now (the signer
// retries and says why), a signer this server does not serve, a dry run (nothing is
// decided, spent or signed), and everything while the policies are not loaded yet.
type InRequest struct {
	// Decider decides by rule; nil: only approvals made through /approval are signed in
	// the request. Ready says whether what it reads is loaded; until then the approver
	// controller decides.
	Decider *issuance.Decider
	Ready   func() bool
	// Issuer signs for the signers served in this process. A certificate issued in the
	// request is stored with its inventory record in one etcd transaction (RecordStorage
	// says where records are stored; required).
	Issuer        *issuance.Issuer
	RecordStorage *RecordStorage
	// Recorder gets the events a person needs: Denied, SignerValidationFailure,
	// AwaitingApproval. An approval and an issued certificate are the CSR's status.
	Recorder record.EventRecorder
	// Clock defaults to the real clock.
	Clock clock.PassiveClock
}

// write is what one create or /approval update does in the request: the object about to
// be stored (the store's own, as BeginCreate and BeginUpdate see it; validation and
// admission see copies), the inventory record a create stores with it (jointStorage),
// and the events to send once it is stored.
type write struct {
	obj, old *certificatesv1.CertificateSigningRequest
	joint    *kcsrv1alpha1.IssuedCertificate
	// recorded is a record of this CSR found in the store by an earlier attempt of this
	// update: its certificate is handed out instead of a new one.
	recorded *kcsrv1alpha1.IssuedCertificate
	// req is spec.request as the strategy's validation parsed it.
	req    *x509.CertificateRequest
	events []event
}

type event struct{ eventType, reason, message string }

type writeKey struct{}

func writeFrom(ctx context.Context) *write {
	w, _ := ctx.Value(writeKey{}).(*write)
	return w
}

// Create creates a CSR, deciding and signing it in the request when a rule decides it.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if r.in == nil || len(options.DryRun) > 0 {
		return r.Store.Create(ctx, obj, createValidation, options)
	}
	w := &write{}
	ctx = context.WithValue(ctx, writeKey{}, w)
	return r.Store.Create(ctx, obj, func(ctx context.Context, obj runtime.Object) error {
		if createValidation != nil {
			if err := createValidation(ctx, obj); err != nil {
				return err
			}
		}
		if w.obj != nil {
			r.in.created(ctx, w)
		}
		return nil
	}, options)
}

// beginCreate is the store's BeginCreate: it points the request's write at the object the
// store will write (a new one on each attempt of a generated name, whose record, if any,
// was never stored: the CSR and its record are written together or not at all).
func (in *InRequest) beginCreate(ctx context.Context, obj runtime.Object, _ *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
	w := writeFrom(ctx)
	if w == nil {
		return func(context.Context, bool) {}, nil
	}
	*w = write{obj: obj.(*certificatesv1.CertificateSigningRequest)}
	return func(_ context.Context, success bool) {
		if success {
			in.send(w)
		}
	}, nil
}

// ApprovalREST is the /approval endpoint: a person's (or the approver's) approval is
// stored with its certificate when this server serves the signer.
type ApprovalREST struct {
	*subresource.REST
	in *InRequest
}

// Update approves or denies, and issues in the same write an approval makes.
func (r *ApprovalREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if r.in == nil || len(options.DryRun) > 0 {
		return r.REST.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
	}
	w := &write{}
	ctx = context.WithValue(ctx, writeKey{}, w)
	return r.REST.Update(ctx, name, objInfo, createValidation, func(ctx context.Context, obj, old runtime.Object) error {
		if updateValidation != nil {
			if err := updateValidation(ctx, obj, old); err != nil {
				return err
			}
		}
		if w.obj != nil {
			r.in.approved(ctx, w)
		}
		return nil
	}, forceAllowCreate, options)
}

// beginApproval is the /approval store's BeginUpdate: it points the request's write at
// the object the store will write (again on each retry of a conflicting update) and
// counts the transitions once the update is validated.
func (in *InRequest) beginApproval(ctx context.Context, obj, old runtime.Object, options *metav1.UpdateOptions) (genericregistry.FinishFunc, error) {
	count, err := countTransitions(ctx, obj, old, options)
	w := writeFrom(ctx)
	if err != nil || w == nil {
		return count, err
	}
	*w = write{obj: obj.(*certificatesv1.CertificateSigningRequest), old: old.(*certificatesv1.CertificateSigningRequest), recorded: w.recorded}
	return func(ctx context.Context, success bool) {
		count(ctx, success)
		if success {
			in.send(w)
		}
	}, nil
}

// created decides a new CSR by rule and, when approved, signs it.
func (in *InRequest) created(ctx context.Context, w *write) {
	obj := w.obj
	if in.Decider == nil || strings.HasPrefix(obj.Spec.Username, kcsrv1alpha1.JoinUserPrefix) || (in.Ready != nil && !in.Ready()) {
		return
	}
	req := w.req
	if req == nil {
		return // validation refuses such requests
	}
	d, err := in.Decider.Decide(ctx, obj, req)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot decide a CSR in its create; the approver will", "csr", obj.Name)
		return
	}
	cond, ok := d.Condition()
	if !ok {
		if d.Message != "" {
			// Why a person must decide, as the approver would have written it.
			if obj.Annotations == nil {
				obj.Annotations = map[string]string{}
			}
			obj.Annotations[kcsrv1alpha1.VerdictAnnotation] = d.Message
			w.events = append(w.events, event{corev1.EventTypeNormal, "AwaitingApproval", d.Message})
		}
		return
	}
	csr.SetCondition(obj, cond, in.now())
	klog.FromContext(ctx).Info("Decided CSR", "csr", obj.Name, "decision", cond.Type, "reason", d.Reason, "message", d.Message)
	if d.Deny {
		w.events = append(w.events, event{corev1.EventTypeWarning, string(cond.Type), d.Reason + ": " + d.Message})
		return
	}
	in.sign(ctx, w, req)
}

// approved signs a CSR its /approval update newly approves.
func (in *InRequest) approved(ctx context.Context, w *write) {
	if csr.IsApproved(w.old) || csr.StateOf(w.obj) != csr.Approved {
		return
	}
	if w.req == nil {
		return // the signer controller reports it
	}
	in.sign(ctx, w, w.req)
}

// sign issues the certificate of an Approved CSR onto the object about to be stored, when
// this server serves its signer. A refusal by the signer's rules is a Failed condition; a
// CA that cannot sign now leaves the CSR Approved for the signer controller to retry.
func (in *InRequest) sign(ctx context.Context, w *write, req *x509.CertificateRequest) {
	obj := w.obj
	profile := in.Issuer.Serves(obj.Spec.SignerName)
	if profile == nil || profile.Upstream != nil {
		// An upstream CA is asked by the signer controller: an API request never waits on
		// a remote CA.
		return
	}
	logger := klog.FromContext(ctx).WithValues("csr", obj.Name, "signerName", obj.Spec.SignerName)
	// The record goes into the CSR's own transaction (jointStorage), unless an earlier
	// attempt found one already: then that certificate is the one.
	record, err := w.recorded, error(nil)
	if record != nil {
		err = issuance.CheckRecord(record, req)
	} else {
		var signed *certificate.Issued
		if signed, err = in.Issuer.Sign(ctx, obj, profile, req); err == nil {
			record = inventory.NewRecord(obj, profile.SignerName, signed.Certificate, signed.PEM)
			w.joint = record
		}
	}
	var refused issuance.RefusedError
	switch {
	case errors.As(err, &refused):
		csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
			Type:    certificatesv1.CertificateFailed,
			Status:  corev1.ConditionTrue,
			Reason:  issuance.ReasonSignerValidationFailure,
			Message: err.Error(),
		}, in.now())
		w.events = append(w.events, event{corev1.EventTypeWarning, issuance.ReasonSignerValidationFailure, err.Error()})
	case err != nil:
		metrics.SigningErrors.WithLabelValues(obj.Spec.SignerName).Inc()
		logger.Error(err, "Cannot sign in the request; the signer controller will retry")
	default:
		obj.Status.Certificate = inventory.Chain(record)
		logger.Info("Issued certificate", "serial", record.Spec.SerialNumber, "notAfter", record.Spec.NotAfter.UTC())
	}
}

// send records the write's events, once the object is stored.
func (in *InRequest) send(w *write) {
	if in.Recorder == nil {
		return
	}
	for _, e := range w.events {
		in.Recorder.Event(w.obj, e.eventType, e.reason, e.message)
	}
}

func (in *InRequest) now() time.Time {
	if in.Clock == nil {
		return time.Now()
	}
	return in.Clock.Now()
}
