package cleaner

import (
	"context"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
	"kcsr.dev/kcsr/pkg/inventory"
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
	inv    *inventory.Index
	opts   Options
	pause  time.Duration
}

// NewInventoryCleaner returns the cleaner of the inventory records inv holds (the caller
// runs inv).
func NewInventoryCleaner(client kcsrclient.Interface, inv *inventory.Index, opts Options) *InventoryCleaner {
	if opts.Interval <= 0 {
		opts.Interval = DefaultOptions().Interval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &InventoryCleaner{client: client, inv: inv, opts: opts, pause: time.Second}
}

// Run cleans every Interval until ctx is done.
func (c *InventoryCleaner) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("inventory-cleaner")
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting inventory cleaner", "retention", c.opts.InventoryRetention, "interval", c.opts.Interval)
	defer logger.Info("Shutting down inventory cleaner")
	if !cache.WaitForNamedCacheSync("inventory-cleaner", ctx.Done(), c.inv.Synced) {
		return
	}
	wait.JitterUntilWithContext(ctx, func(ctx context.Context) { c.CleanOnce(ctx) }, c.opts.Interval, 0, true)
}

// CleanOnce deletes every record that is due, a batch at a time, and reports the oldest
// expiry still held. It returns how many it deleted.
func (c *InventoryCleaner) CleanOnce(ctx context.Context) int {
	cutoff := c.opts.Clock.Now().Add(-c.opts.InventoryRetention)
	var due []*inventory.Record
	var oldest time.Time // the oldest expiry of the records kept
	keep := func(t time.Time) {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	c.inv.Range(func(r *inventory.Record) bool {
		if r.NotAfter().Before(cutoff) {
			due = append(due, r)
		} else {
			keep(r.NotAfter())
		}
		return true
	})
	sort.Slice(due, func(i, j int) bool { return due[i].NotAfter().Before(due[j].NotAfter()) })
	deleted := 0
	for i, r := range due {
		if deleted > 0 && deleted%inventoryBatch == 0 {
			select {
			case <-ctx.Done():
				for _, r := range due[i:] {
					keep(r.NotAfter())
				}
				return deleted
			case <-c.opts.Clock.After(c.pause):
			}
		}
		if c.delete(ctx, r) {
			deleted++
		} else {
			keep(r.NotAfter()) // not deleted: still held
		}
	}
	expiry := 0.0
	if !oldest.IsZero() {
		expiry = float64(oldest.Unix())
	}
	metrics.InventoryOldestExpiry.Set(expiry)
	if deleted > 0 {
		klog.FromContext(ctx).Info("Deleted the records of long-expired certificates", "count", deleted, "retention", c.opts.InventoryRetention)
	}
	return deleted
}

// delete deletes r's record. The record's storage refuses to delete the record of a
// certificate that has not expired, so a record of that name made since the index saw r
// (the same CSR's, so the same certificate) is safe from it.
func (c *InventoryCleaner) delete(ctx context.Context, r *inventory.Record) bool {
	err := c.client.KcsrV1alpha1().IssuedCertificates().Delete(ctx, r.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		klog.FromContext(ctx).Error(err, "delete IssuedCertificate", "record", r.Name, "serial", r.Serial)
		return false
	}
	if err == nil {
		metrics.InventoryExpiredDeleted.Inc()
	}
	return true
}
