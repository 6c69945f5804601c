package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"math/big"
	"net/http/httptest"
	"testing"
	"time"

	"kcsr.dev/kcsr/pkg/revocation"
	"kcsr.dev/kcsr/pkg/testkit"
)

// revokedSet returns n revocations with random 127-bit serials (as kcsr issues them) and
// a mix of reasons.
func revokedSet(b *testing.B, n int) revoked {
	b.Helper()
	reasons := []revocation.Reason{revocation.KeyCompromise, revocation.Superseded, revocation.Unspecified, revocation.CessationOfOperation, revocation.AffiliationChanged}
	set := make(revoked, n)
	for i := range n {
		set.put(b, revocation.Entry{
			Serial:    testkit.Serial(b),
			RevokedAt: testkit.Epoch.Add(-time.Duration(i) * time.Minute),
			Reason:    reasons[i%len(reasons)],
			NotAfter:  testkit.Epoch.Add(365 * 24 * time.Hour),
		})
	}
	return set
}

// BenchmarkCRL100k is issue 7's acceptance (d): a CRL of 100,000 revoked certificates,
// from the sorted entries to the signed DER; ns/op is the time to generate one. It
// reports the CRL's size (crl-bytes).
func BenchmarkCRL100k(b *testing.B) {
	const n = 100_000
	entries := revokedSet(b, n).sorted()
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048, testkit.Ed25519} {
		b.Run(string(kt), func(b *testing.B) {
			c := testkit.NewCA(b, testkit.NewKey(b, kt))
			a := &revocation.Authority{Backend: c.Backend()}
			ctx := context.Background()
			var size int
			b.ReportAllocs()
			for b.Loop() {
				der, err := a.CRL(ctx, entries, big.NewInt(1), testkit.Epoch)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.ReportMetric(float64(size), "crl-bytes")
		})
	}
}

// BenchmarkOCSP measures OCSP responses per second (responses/s) through the handler
// (POST, parse, lookup among 100,000 revocations, sign), from as many goroutines as GOMAXPROCS.
func BenchmarkOCSP(b *testing.B) {
	set := revokedSet(b, 100_000)
	snapshot := set.sorted()
	for _, kt := range []testkit.KeyType{testkit.P256, testkit.RSA2048, testkit.Ed25519} {
		b.Run(string(kt), func(b *testing.B) {
			c := testkit.NewCA(b, testkit.NewKey(b, kt))
			lookup := func(serial *big.Int) revocation.Status {
				e, isRevoked := set.get(serial)
				return revocation.Status{Known: true, Revoked: isRevoked, Entry: e}
			}
			h := revocation.OCSPHandler(&revocation.Authority{Backend: c.Backend()}, lookup, func() time.Time { return testkit.Epoch }, nil)
			key := testkit.NewKey(b, testkit.P256).Public()
			// Half the requests are about revoked certificates.
			var reqs [][]byte
			for i := range 64 {
				serial := testkit.Serial(b)
				if i%2 == 0 {
					serial = snapshot[i*1000].Serial
				}
				leaf := c.Issue(b, testkit.LeafTemplate(serial, "rahul", testkit.Epoch, testkit.Epoch.Add(time.Hour)), key)
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
