package cleaner

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/metrics/legacyregistry"
	clocktesting "k8s.io/utils/clock/testing"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	kcsrfake "kcsr.dev/kcsr/pkg/generated/clientset/versioned/fake"
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestInventoryCleanOnce: records whose certificate expired more than the retention ago
// are deleted; the recently expired and the valid stay,
// and the oldest expiry still held is reported.
func TestInventoryCleanOnce(t *testing.T) {
	metrics.Register()
	record := func(name string, notAfter time.Time) runtime.Object {
		return &kcsrv1alpha1.IssuedCertificate{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
			Spec:       kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: name, NotAfter: metav1.NewTime(notAfter)},
		}
	}
	retention := 30 * 24 * time.Hour
	client := kcsrfake.NewSimpleClientset(
		record("expired-long-ago", now.Add(-retention-24*time.Hour)),
		record("expired-just-past-retention", now.Add(-retention-time.Minute)),
		record("expired-recently", now.Add(-time.Hour)),
		record("valid", now.Add(time.Hour)),
	)
	inv := inventory.NewIndex()
	c := NewInventoryCleaner(client, inv, Options{InventoryRetention: retention, Clock: clocktesting.NewFakeClock(now)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go inv.Run(ctx, client.KcsrV1alpha1().IssuedCertificates())
	cache.WaitForCacheSync(ctx.Done(), inv.Synced)

	if got := c.CleanOnce(ctx); got != 2 {
		t.Errorf("CleanOnce deleted %d, want 2", got)
	}
	var deleted []string
	for _, a := range client.Actions() {
		if a.GetVerb() == "delete" {
			deleted = append(deleted, a.(interface{ GetName() string }).GetName())
		}
	}
	sort.Strings(deleted)
	if diff := cmp.Diff([]string{"expired-just-past-retention", "expired-long-ago"}, deleted); diff != "" {
		t.Errorf("deleted records (-want +got):\n%s", diff)
	}
	oldest := testkit.Series(t, legacyregistry.DefaultGatherer, "kcsr_inventory_oldest_expiry_timestamp_seconds")[""]
	if want := float64(now.Add(-time.Hour).Unix()); oldest != want {
		t.Errorf("oldest expiry held = %v, want %v (expired-recently)", oldest, want)
	}
}
