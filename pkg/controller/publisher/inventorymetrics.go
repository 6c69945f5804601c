package publisher

import (
	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/revocation"
)

// The inventory gauges of /metrics are counted here, from the inventory index:
// they count revoked certificates per published CA, which only the publisher knows.

// countInventory counts the inventory for the gauges of /metrics (metrics.Inventory):
// revoked certificates not yet expired by CA and reason, and live ones by signer, time to
// expiry and whether a newer certificate for the same subject exists. It counts nothing
// until the inventory is loaded. Two passes over the index, and no copy of it: a scrape
// over a million records allocates nothing but the map of the newest expiry by subject,
// kept between scrapes.
func (p *Publisher) countInventory(inv *metrics.Inventory) bool {
	if !p.inv.Synced() {
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
	for _, r := range p.revoked(now) {
		if s := p.caOf(r); s != nil {
			inv.Revoked(s.ID, reasonName(r.Revocation.Reason), 1)
		}
	}
	p.newestMu.Lock()
	defer p.newestMu.Unlock()
	newest := p.newest // the latest notAfter by subject
	clear(newest)
	live := func(r *inventory.Record) bool { return r.Revocation == nil && !r.Expired(now) }
	p.inv.Range(func(r *inventory.Record) bool {
		if live(r) {
			if t, ok := newest[r.Subject]; !ok || r.NotAfter().Unix() > t {
				newest[r.Subject] = r.NotAfter().Unix()
			}
		}
		return true
	})
	p.inv.Range(func(r *inventory.Record) bool {
		if live(r) {
			inv.Live(r.SignerName, r.NotAfter().Sub(now), newest[r.Subject] > r.NotAfter().Unix())
		}
		return true
	})
	return true
}
