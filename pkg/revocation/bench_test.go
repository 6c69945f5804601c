package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"math/big"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/ca/catest"
	"kcsr.dev/kcsr/pkg/revocation"
)

// revokedSet returns a Set of n revocations with random 127-bit serials (as kcsr issues
// them) and a mix of reasons, and the bytes of heap the Set retains: live heap after a GC
// once it is built, less the same before, with the input entries alive across both
// measurements so that only the Set's own copies count.
func revokedSet(b *testing.B, n int) (*revocation.Set, int64) {
	b.Helper()
	reasons := []revocation.Reason{revocation.KeyCompromise, revocation.Superseded, revocation.Unspecified, revocation.CessationOfOperation, revocation.AffiliationChanged}
	entries := make([]revocation.Entry, n)
	for i := range entries {
		entries[i] = revocation.Entry{
			Serial:    catest.Serial(b),
			RevokedAt: catest.Epoch.Add(-time.Duration(i) * time.Minute),
			Reason:    reasons[i%len(reasons)],
			NotAfter:  catest.Epoch.Add(365 * 24 * time.Hour),
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	set := &revocation.Set{}
	for _, e := range entries {
		if err := set.Put(e); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(entries)
	runtime.KeepAlive(set)
	return set, int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// BenchmarkCRL100k is issue 7's acceptance (d): a CRL of 100,000 revoked certificates,
// from the Set's snapshot to the signed DER; ns/op is the time to generate one. It
// reports the CRL's size (crl-bytes) and the heap the Set of 100,000 retains (set-bytes,
// and set-bytes/entry).
func BenchmarkCRL100k(b *testing.B) {
	const n = 100_000
	set, heap := revokedSet(b, n)
	for _, kt := range []catest.KeyType{catest.P256, catest.RSA2048, catest.Ed25519} {
		b.Run(string(kt), func(b *testing.B) {
			c := catest.NewCA(b, catest.NewKey(b, kt))
			a := &revocation.Authority{Backend: c.Backend()}
			ctx := context.Background()
			var size int
			b.ReportAllocs()
			for b.Loop() {
				der, err := a.CRL(ctx, set.Snapshot(), big.NewInt(1), catest.Epoch)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.ReportMetric(float64(size), "crl-bytes")
			b.ReportMetric(float64(heap), "set-bytes")
			b.ReportMetric(float64(heap)/n, "set-bytes/entry")
		})
	}
}

// BenchmarkOCSP measures OCSP responses per second (responses/s) through the handler
// (POST, parse, lookup in a Set of 100,000, sign), from as many goroutines as GOMAXPROCS.
func BenchmarkOCSP(b *testing.B) {
	set, _ := revokedSet(b, 100_000)
	snapshot := set.Snapshot()
	for _, kt := range []catest.KeyType{catest.P256, catest.RSA2048, catest.Ed25519} {
		b.Run(string(kt), func(b *testing.B) {
			c := catest.NewCA(b, catest.NewKey(b, kt))
			lookup := func(serial *big.Int) revocation.Status {
				e, revoked := set.Get(serial)
				return revocation.Status{Known: true, Revoked: revoked, Entry: e}
			}
			h := revocation.OCSPHandler(&revocation.Authority{Backend: c.Backend()}, lookup, func() time.Time { return catest.Epoch }, nil)
			key := catest.NewKey(b, catest.P256).Public()
			// Half the requests are about revoked certificates.
			var reqs [][]byte
			for i := range 64 {
				serial := catest.Serial(b)
				if i%2 == 0 {
					serial = snapshot[i*1000].Serial
				}
				leaf := c.Issue(b, leafTemplate(serial, "rahul", catest.Epoch, catest.Epoch.Add(time.Hour)), key)
				reqs = append(reqs, requestFor(b, leaf, c.Cert, crypto.SHA1))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r := httptest.NewRequest("POST", "/", bytes.NewReader(reqs[i%len(reqs)]))
					r.Header.Set("Content-Type", "application/ocsp-request")
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 || w.Body.Len() < 100 {
						b.Fatalf("status %d, %d bytes", w.Code, w.Body.Len())
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		})
	}
}
