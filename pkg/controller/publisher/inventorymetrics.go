package publisher

import (
	"hash/maphash"
	"slices"
	"time"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/revocation"
)

// The inventory gauges of /metrics are counted here, from the publisher's informer cache:
// they count revoked certificates per published CA, which only the publisher knows.

// countInventory counts the inventory for the gauges of /metrics (metrics.Inventory):
// revoked certificates not yet expired by CA and reason, and live ones by signer, time to
// expiry and whether a newer certificate for the same subject exists. It counts nothing
// until the informer has synced.
func (p *Publisher) countInventory(inv *metrics.Inventory) bool {
	if !p.synced() {
		return false
	}
	now := p.clock.Now()
	for id := range p.cas {
		for _, r := range revocation.RevocationReasons() {
			inv.Revoked(id, r.String(), 0)
		}
	}
	for name := range p.bySigner {
		inv.Signer(name)
	}
	type live struct {
		ic      *kcsrv1alpha1.IssuedCertificate
		subject uint64
	}
	objs := p.indexer.List()
	lives := make([]live, 0, len(objs))
	newest := make(map[uint64]time.Time, len(objs)) // the latest notAfter by subject
	for _, obj := range objs {
		ic := obj.(*kcsrv1alpha1.IssuedCertificate)
		if expired(ic, now) {
			continue
		}
		if r := ic.Status.Revocation; r != nil {
			if s := p.caOf(ic); s != nil {
				inv.Revoked(s.ID, reasonName(r.Reason), 1)
			}
			continue
		}
		l := live{ic, subjectKey(ic)}
		lives = append(lives, l)
		if t, ok := newest[l.subject]; !ok || ic.Spec.NotAfter.Time.After(t) {
			newest[l.subject] = ic.Spec.NotAfter.Time
		}
	}
	for _, l := range lives {
		inv.Live(l.ic.Spec.SignerName, l.ic.Spec.NotAfter.Sub(now), newest[l.subject].After(l.ic.Spec.NotAfter.Time))
	}
	return true
}

// subjectKey identifies whom a certificate was issued to, for telling a renewal: the same
// signer, common name and organizations (a node, a user and their groups), and, for a
// certificate without a common name, the same subject alternative names. It is a 64-bit
// hash, not a string, to keep a scrape over 100,000 certificates from allocating 100,000
// keys; two subjects colliding (odds of 2⁻⁶⁴ a pair) would only count one certificate
// as renewed.
func subjectKey(ic *kcsrv1alpha1.IssuedCertificate) uint64 {
	sp := ic.Spec
	var h maphash.Hash
	h.SetSeed(subjectSeed)
	h.WriteString(sp.SignerName)
	h.WriteByte(0)
	h.WriteString(sp.CommonName)
	writeSorted(&h, sp.Organizations)
	if sp.CommonName == "" {
		for _, names := range [][]string{sp.DNSNames, sp.IPAddresses, sp.URIs, sp.EmailAddresses} {
			writeSorted(&h, names)
		}
	}
	return h.Sum64()
}

var subjectSeed = maphash.MakeSeed()

// writeSorted writes a NUL, then names in order, each after a "\x01".
func writeSorted(h *maphash.Hash, names []string) {
	if !slices.IsSorted(names) {
		names = slices.Sorted(slices.Values(names))
	}
	h.WriteByte(0)
	for _, n := range names {
		h.WriteByte(1)
		h.WriteString(n)
	}
}
