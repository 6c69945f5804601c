// Package cleaner garbage-collects CSRs with Kubernetes' csrcleaner rules, so that
// finished requests do not pile up in storage. Certificates are never lost by it: every
// issued certificate stays in the IssuedCertificate inventory, until it has been expired
// for the inventory's retention (InventoryCleaner, 30 days by default).
//
//	issued (Approved + certificate)  deleted 1h after the Approved condition
//	Denied                           deleted 1h after the Denied condition
//	Failed                           deleted 1h after the Failed condition
//	Pending (no conditions)          deleted 24h after creation
//	Approved but never issued        deleted 24h after the Approved condition
//	issued certificate expired       deleted at once
//
// The ages and the polling interval are configurable; time is read from an injected clock.
package cleaner

import (
	"context"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	certificatesinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/csr"
	"kcsr.dev/kcsr/pkg/pemutil"
)

// Options are the ages after which CSRs (and inventory records) are deleted, and how
// often to look.
type Options struct {
	Interval    time.Duration // 1h
	ApprovedAge time.Duration // 1h: issued, counted from the Approved condition
	DeniedAge   time.Duration // 1h: Denied or Failed
	PendingAge  time.Duration // 24h: Pending, and Approved but never issued
	// InventoryRetention is how long an IssuedCertificate outlives its certificate's
	// expiry (InventoryCleaner); 0 keeps every record.
	InventoryRetention time.Duration // 30 days
	Clock              clock.Clock
}

// DefaultOptions are Kubernetes' values, and kcsr's retention of the inventory.
func DefaultOptions() Options {
	return Options{Interval: time.Hour, ApprovedAge: time.Hour, DeniedAge: time.Hour, PendingAge: 24 * time.Hour, InventoryRetention: DefaultInventoryRetention}
}

// Controller deletes finished CSRs.
type Controller struct {
	client kubernetes.Interface
	lister certificateslisters.CertificateSigningRequestLister
	synced cache.InformerSynced
	opts   Options
}

// New returns a cleaner.
func New(client kubernetes.Interface, csrs certificatesinformers.CertificateSigningRequestInformer, opts Options) *Controller {
	d := DefaultOptions()
	if opts.Interval <= 0 {
		opts.Interval = d.Interval
	}
	if opts.ApprovedAge <= 0 {
		opts.ApprovedAge = d.ApprovedAge
	}
	if opts.DeniedAge <= 0 {
		opts.DeniedAge = d.DeniedAge
	}
	if opts.PendingAge <= 0 {
		opts.PendingAge = d.PendingAge
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Controller{client: client, lister: csrs.Lister(), synced: csrs.Informer().HasSynced, opts: opts}
}

// Run cleans every Interval until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("cleaner")
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting CSR cleaner", "interval", c.opts.Interval)
	defer logger.Info("Shutting down CSR cleaner")
	if !cache.WaitForNamedCacheSync("cleaner", ctx.Done(), c.synced) {
		return
	}
	wait.JitterUntilWithContext(ctx, c.CleanOnce, c.opts.Interval, 0, true)
}

// CleanOnce deletes every CSR that is due.
func (c *Controller) CleanOnce(ctx context.Context) {
	csrs, err := c.lister.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "list CSRs")
		return
	}
	now := c.opts.Clock.Now()
	for _, obj := range csrs {
		why := c.due(obj, now)
		if why == "" {
			continue
		}
		err := c.client.CertificatesV1().CertificateSigningRequests().Delete(ctx, obj.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &obj.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			klog.FromContext(ctx).Error(err, "delete CSR", "csr", obj.Name)
			continue
		}
		klog.FromContext(ctx).V(2).Info("Cleaned CSR", "csr", obj.Name, "reason", why)
	}
}

// due returns why obj should be deleted at now, or "".
func (c *Controller) due(obj *certificatesv1.CertificateSigningRequest, now time.Time) string {
	approved := csr.Condition(obj, certificatesv1.CertificateApproved)
	denied := csr.Condition(obj, certificatesv1.CertificateDenied)
	failed := csr.Condition(obj, certificatesv1.CertificateFailed)
	issued := csr.IsIssued(obj)
	switch {
	case approved != nil && issued && certificateExpired(obj.Status.Certificate, now):
		return "its certificate has expired"
	case approved != nil && issued && olderThan(approved.LastUpdateTime, c.opts.ApprovedAge, now):
		return "issued more than " + c.opts.ApprovedAge.String() + " ago"
	case denied != nil && olderThan(denied.LastUpdateTime, c.opts.DeniedAge, now):
		return "denied more than " + c.opts.DeniedAge.String() + " ago"
	case failed != nil && olderThan(failed.LastUpdateTime, c.opts.DeniedAge, now):
		return "failed more than " + c.opts.DeniedAge.String() + " ago"
	case approved != nil && !issued && failed == nil && olderThan(approved.LastUpdateTime, c.opts.PendingAge, now):
		return "approved but not issued for more than " + c.opts.PendingAge.String()
	case approved == nil && denied == nil && failed == nil && olderThan(obj.CreationTimestamp, c.opts.PendingAge, now):
		return "pending for more than " + c.opts.PendingAge.String()
	}
	return ""
}

// olderThan: a zero timestamp is never old, as in Kubernetes.
func olderThan(t metav1.Time, age time.Duration, now time.Time) bool {
	return !t.IsZero() && now.Sub(t.Time) > age
}

func certificateExpired(data []byte, now time.Time) bool {
	cert, err := pemutil.FirstCertificate(data)
	return err == nil && now.After(cert.NotAfter)
}
