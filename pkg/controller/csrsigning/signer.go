// Package csrsigning is the controller that issues certificates for Approved CSRs. For each CSR
// of a signerName it serves, it checks the request against the signer's rules (a violation
// marks the CSR Failed with reason SignerValidationFailure and a message saying what to
// change), signs it with the signer's CA, records the certificate in the IssuedCertificate
// inventory, and only then writes status.certificate. The record is named after the CSR's
// UID, so a crash between recording and writing the status, or two replicas racing, still
// yields exactly one certificate per CSR. Transient errors are retried with backoff and
// never mark a CSR Failed. In kcsr server most CSRs arrive here issued already (signed in
// the request that approved them, with the same issuance.Issuer); this controller signs
// the rest: a CA that was down, an approval written while it was, kcsr controller's CSRs.
//
// In standalone mode (ReportUnserved) the controller is the only signer, so an Approved
// CSR whose signerName nothing serves gets a SignerUnavailable condition saying so:
// "Approved but never issued" is never silent.
package csrsigning

import (
	"context"
	"errors"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/controller/worker"
	"kcsr.dev/kcsr/pkg/csr"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/issuance"
	"kcsr.dev/kcsr/pkg/metrics"
)

// Options configure the controller.
type Options struct {
	// Issuer signs, with the CAs of the signers served (by signerName).
	Issuer *issuance.Issuer
	// ReportUnserved marks Approved CSRs of signerNames the Issuer does not serve with a
	// SignerUnavailable condition (standalone mode, where no other signer exists).
	ReportUnserved bool
}

// Controller issues certificates.
type Controller struct {
	worker.CSRController
	opts    Options
	records issuance.Records
}

// New returns a controller watching csrs.
func New(deps worker.CSRDeps, opts Options) (*Controller, error) {
	if opts.Issuer == nil {
		return nil, errors.New("csrsigning: an Issuer is required")
	}
	c := &Controller{opts: opts, records: clientRecords{deps.Kcsr}}
	var err error
	c.CSRController, err = worker.NewCSRController("signer", deps, c.sync)
	return c, err
}

// clientRecords writes inventory records through the API.
type clientRecords struct{ kcsr kcsrclient.Interface }

func (r clientRecords) Create(ctx context.Context, record *kcsrv1alpha1.IssuedCertificate) (*kcsrv1alpha1.IssuedCertificate, error) {
	return r.kcsr.KcsrV1alpha1().IssuedCertificates().Create(ctx, record, metav1.CreateOptions{})
}

func (r clientRecords) Get(ctx context.Context, name string) (*kcsrv1alpha1.IssuedCertificate, error) {
	return r.kcsr.KcsrV1alpha1().IssuedCertificates().Get(ctx, name, metav1.GetOptions{})
}

// sync issues the certificate of one CSR if it is due.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.Lister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// Upstream's test: approved and not denied, no Failed condition; and no certificate yet.
	if csr.StateOf(cached) != csr.Approved {
		return nil
	}
	obj := cached.DeepCopy()
	logger := klog.FromContext(ctx).WithValues("csr", name, "signerName", obj.Spec.SignerName)

	profile := c.opts.Issuer.Serves(obj.Spec.SignerName)
	if profile == nil {
		if !c.opts.ReportUnserved {
			return nil
		}
		return c.setUnavailable(ctx, obj, kcsrv1alpha1.ReasonNoSigner, fmt.Sprintf(
			"no signer serves signerName %q; declare it in the --signer-config file of kcsr server (or fix a misspelled signerName and create a new CSR)", obj.Spec.SignerName))
	}

	req, err := csr.DecodeRequest(obj.Spec.Request)
	if err != nil {
		return fmt.Errorf("unable to parse csr %q: %w", name, err)
	}
	issued, err := c.opts.Issuer.Issue(ctx, c.records, obj, profile, req)
	var refused issuance.RefusedError
	if errors.As(err, &refused) {
		logger.V(2).Info("refusing to sign", "reason", err)
		return c.fail(ctx, obj, err.Error())
	}
	if err != nil {
		metrics.SigningErrors.WithLabelValues(obj.Spec.SignerName).Inc()
		var unavailable issuance.UnavailableError
		if errors.As(err, &unavailable) {
			if uerr := c.setUnavailable(ctx, obj, kcsrv1alpha1.ReasonCAUnavailable, err.Error()); uerr != nil {
				return uerr
			}
		}
		return err
	}
	obj.Status.Certificate = inventory.Chain(issued)
	obj.Status.Conditions = withoutCondition(obj.Status.Conditions, kcsrv1alpha1.ConditionSignerUnavailable)
	if _, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("error updating signature for csr: %w", err)
	}
	logger.Info("Issued certificate", "serial", issued.Spec.SerialNumber, "notAfter", issued.Spec.NotAfter.UTC())
	return nil
}

func (c *Controller) fail(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, message string) error {
	obj.Status.Conditions = withoutCondition(obj.Status.Conditions, kcsrv1alpha1.ConditionSignerUnavailable)
	csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
		Type:    certificatesv1.CertificateFailed,
		Status:  corev1.ConditionTrue,
		Reason:  issuance.ReasonSignerValidationFailure,
		Message: message,
	}, c.Clock.Now())
	_, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	if err == nil {
		c.Recorder.Event(obj, corev1.EventTypeWarning, issuance.ReasonSignerValidationFailure, message)
	}
	return err
}

// setUnavailable records why an Approved CSR is not issued, once per reason and message.
func (c *Controller) setUnavailable(ctx context.Context, obj *certificatesv1.CertificateSigningRequest, reason, message string) error {
	if !csr.SetCondition(obj, certificatesv1.CertificateSigningRequestCondition{
		Type:    kcsrv1alpha1.ConditionSignerUnavailable,
		Status:  corev1.ConditionTrue,
		Reason:  reason,
		Message: message,
	}, c.Clock.Now()) {
		return nil
	}
	_, err := c.Client.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	if err == nil {
		c.Recorder.Event(obj, corev1.EventTypeWarning, reason, message)
	}
	return err
}

func withoutCondition(conds []certificatesv1.CertificateSigningRequestCondition, t certificatesv1.RequestConditionType) []certificatesv1.CertificateSigningRequestCondition {
	out := conds[:0:0]
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}
