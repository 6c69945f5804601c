package cleaner

import (
	"context"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	kcsrinformers "kcsr.dev/kcsr/pkg/generated/informers/externalversions/kcsr/v1alpha1"
	kcsrlisters "kcsr.dev/kcsr/pkg/generated/listers/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/metrics"
)

// DefaultInventoryRetention is how long a record outlives its certificate by default.
const DefaultInventoryRetention = 30 * 24 * time.Hour

// inventoryBatch is how many records one pass deletes before it pauses.
const inventoryBatch = 500

// InventoryCleaner deletes the IssuedCertificates whose certificate expired more than
// Options.InventoryRetention ago, oldest first, in batches, so that a fleet CA's
// inventory does not grow without end. Nothing is lost that still matters: an expired
// certificate fails every TLS handshake, has left the CRL (which lists revoked,
// unexpired certificates), and is what RFC 5280 lets a CA forget. The record's storage
// refuses to delete the record of a certificate that has not expired, whoever asks.
type InventoryCleaner struct {
	client kcsrclient.Interface
	lister kcsrlisters.IssuedCertificateLister
	synced cache.InformerSynced
	opts   Options
	pause  time.Duration
}

// NewInventoryCleaner returns the cleaner of the inventory records informer holds.
func NewInventoryCleaner(client kcsrclient.Interface, informer kcsrinformers.IssuedCertificateInformer, opts Options) *InventoryCleaner {
	if opts.Interval <= 0 {
		opts.Interval = DefaultOptions().Interval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &InventoryCleaner{client: client, lister: informer.Lister(), synced: informer.Informer().HasSynced, opts: opts, pause: time.Second}
}

// Run cleans every Interval until ctx is done.
func (c *InventoryCleaner) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("inventory-cleaner")
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting inventory cleaner", "retention", c.opts.InventoryRetention, "interval", c.opts.Interval)
	defer logger.Info("Shutting down inventory cleaner")
	if !cache.WaitForNamedCacheSync("inventory-cleaner", ctx.Done(), c.synced) {
		return
	}
	wait.JitterUntilWithContext(ctx, func(ctx context.Context) { c.CleanOnce(ctx) }, c.opts.Interval, 0, true)
}

// CleanOnce deletes every record that is due, a batch at a time, and reports the oldest
// expiry still held. It returns how many it deleted.
func (c *InventoryCleaner) CleanOnce(ctx context.Context) int {
	records, err := c.lister.List(labels.Everything())
	if err != nil {
		klog.FromContext(ctx).Error(err, "list IssuedCertificates")
		return 0
	}
	sort.Slice(records, func(i, j int) bool { return records[i].Spec.NotAfter.Before(&records[j].Spec.NotAfter) })
	cutoff := c.opts.Clock.Now().Add(-c.opts.InventoryRetention)
	deleted := 0
	oldest := len(records) // index of the oldest record kept
	for i, r := range records {
		if !r.Spec.NotAfter.Time.Before(cutoff) {
			if oldest == len(records) {
				oldest = i
			}
			break
		}
		if deleted > 0 && deleted%inventoryBatch == 0 {
			select {
			case <-ctx.Done():
				return deleted
			case <-c.opts.Clock.After(c.pause):
			}
		}
		if c.delete(ctx, r) {
			deleted++
		} else if oldest == len(records) {
			oldest = i // not deleted: still held
		}
	}
	expiry := 0.0
	if oldest < len(records) {
		expiry = float64(records[oldest].Spec.NotAfter.Unix())
	}
	metrics.InventoryOldestExpiry.Set(expiry)
	if deleted > 0 {
		klog.FromContext(ctx).Info("Deleted the records of long-expired certificates", "count", deleted, "retention", c.opts.InventoryRetention)
	}
	return deleted
}

func (c *InventoryCleaner) delete(ctx context.Context, r *kcsrv1alpha1.IssuedCertificate) bool {
	err := c.client.KcsrV1alpha1().IssuedCertificates().Delete(ctx, r.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &r.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Error(err, "delete IssuedCertificate", "record", r.Name, "serial", r.Spec.SerialNumber)
		return false
	}
	if err == nil {
		metrics.InventoryExpiredDeleted.Inc()
	}
	return true
}
