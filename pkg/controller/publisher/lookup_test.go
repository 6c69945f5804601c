package publisher

import (
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// TestLookupRevokedWins: OCSP never calls a revoked certificate good. When the inventory
// holds two records of one serial (the certificate recorded again by hand under another
// name), one of them revoked, the serial is revoked, whichever record the index yields
// first.
func TestLookupRevokedWins(t *testing.T) {
	f := newFixture(t, nil,
		issued("rahul", clientSigner, 42, "rahul", testkit.Epoch.Add(time.Hour), revokedFor("keyCompromise")),
		issued("rahul-again", clientSigner, 42, "rahul", testkit.Epoch.Add(time.Hour)),
		issued("priya", clientSigner, 43, "priya", testkit.Epoch.Add(time.Hour)),
	)
	eventually(t, "the CRLs", func() bool { return gauge(t, metrics.CRLSize, ClusterCAID) > 0 })
	lookup := f.pub.lookup(f.pub.cas[ClusterCAID])
	want := map[int64]revocation.Status{
		42: {Known: true, Revoked: true, Entry: revocation.Entry{Serial: big.NewInt(42), RevokedAt: testkit.Epoch.Add(-time.Minute), Reason: revocation.KeyCompromise, NotAfter: testkit.Epoch.Add(time.Hour)}},
		43: {Known: true},
		44: {},
	}
	// The index hands the two records of serial 42 back in map order: ask often enough
	// that both orders come up.
	for range 64 {
		for serial, w := range want {
			if diff := cmp.Diff(w, lookup(big.NewInt(serial)), cmp.Comparer(func(a, b *big.Int) bool { return a == nil && b == nil || a != nil && b != nil && a.Cmp(b) == 0 })); diff != "" {
				t.Fatalf("serial %d (-want +got):\n%s", serial, diff)
			}
		}
	}
}
