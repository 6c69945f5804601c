// Package publisher is the revocation publisher: for each signing CA it keeps a CRL built
// from the IssuedCertificate inventory (regenerated within a second of every revocation
// and before half its validity has passed) and answers OCSP from the same inventory, kept
// in step with storage by an inventory.Index. It serves both over plain HTTP:
//
//	GET /crl/<id>.crl           DER CRL, application/pkix-crl
//	GET|POST /ocsp/<id>[/<req>] RFC 6960
//
// A CA is a CA key (ca.Identity: the certificate's subject and key), not a signer: its CRL
// lists, and its OCSP responder answers "revoked" for, every revoked certificate that CA
// issued, whichever signer issued it. <id> is "cluster" for the cluster CA and, for
// another CA, the first of its signer names with "/" replaced by "_". Every signer's own
// id (its name with "/" replaced by "_") is also served, as the CRL and OCSP of its CA:
// the URLs of certificates issued before signers sharing a CA were published together
// keep working.
//
// It records the revocation metrics of pkg/metrics: CRL size, entries, thisUpdate and
// nextUpdate and generation errors per CA, OCSP answers per CA and status, revocations
// seen; and, counted from the inventory index at every scrape, the revoked certificates
// per CA and reason and the live certificates per signer by time to expiry.
package publisher

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/inventory"
	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/pemutil"
	"kcsr.dev/kcsr/pkg/revocation"
)

// CA is one signing CA whose revocations are published.
type CA struct {
	// ID names the CA in URLs and metrics.
	ID string
	// Authority signs its CRLs and OCSP responses.
	Authority *revocation.Authority
	// SignerNames are the signers that issue with this CA.
	SignerNames []string
	// Certificate is the CA certificate, when known: a certificate in the inventory whose
	// issuer is this CA's subject belongs to this CA even if its signer now issues with
	// another CA, or is gone. Without it, a certificate belongs to the CA of its signer.
	Certificate *x509.Certificate
}

// ClusterCAID is the ID of the cluster CA.
const ClusterCAID = "cluster"

// IDFor returns the URL ID of a signer's own CA.
func IDFor(signerName string) string { return strings.ReplaceAll(signerName, "/", "_") }

type caState struct {
	CA

	mu         sync.Mutex
	crl        []byte
	number     *big.Int
	nextUpdate time.Time
	dirty      bool
}

// Publisher publishes the revocations of every CA.
type Publisher struct {
	cas      map[string]*caState
	bySigner map[string]*caState
	// byIssuer holds the CAs of each known CA subject (RFC 2253), as
	// IssuedCertificateSpec.Issuer records it; routes maps every URL id to its CA.
	byIssuer map[string][]*caState
	routes   map[string]*caState
	inv      *inventory.Index
	clock    clock.WithTicker
	wake     chan struct{}

	// memo holds caOf's answers: by issuer and signer, and, for the rare record those do
	// not place (CAs sharing a subject), by record name.
	memoMu   sync.Mutex
	memo     map[[2]string]*caState
	memoName map[string]*caState
	// newest is countInventory's scratch map, kept between scrapes.
	newestMu sync.Mutex
	newest   map[uint64]int64
}

// New returns a publisher over the inventory index inv, which it tells nothing to: the
// caller runs inv. Call metrics.Register first for its metrics to be recorded. It refuses
// two CAs with one ID, a signer listed under two CAs, and two signers whose URL ids are
// the same.
func New(cas []CA, inv *inventory.Index, clk clock.WithTicker) (*Publisher, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	p := &Publisher{cas: map[string]*caState{}, bySigner: map[string]*caState{}, byIssuer: map[string][]*caState{}, routes: map[string]*caState{}, inv: inv, clock: clk, wake: make(chan struct{}, 1),
		memo: map[[2]string]*caState{}, memoName: map[string]*caState{}, newest: map[uint64]int64{}}
	routeNames := map[string]string{} // URL id -> what claimed it, for errors
	route := func(id, what string, s *caState) error {
		if other, taken := p.routes[id]; taken && other != s {
			return fmt.Errorf("%s and %s would both be published at /crl/%s.crl; rename one of them", routeNames[id], what, id)
		}
		if _, taken := p.routes[id]; !taken {
			p.routes[id], routeNames[id] = s, what
		}
		return nil
	}
	for _, c := range cas {
		s := &caState{CA: c, dirty: true}
		if _, dup := p.cas[c.ID]; dup {
			return nil, fmt.Errorf("two CAs have the ID %q", c.ID)
		}
		p.cas[c.ID] = s
		if err := route(c.ID, fmt.Sprintf("CA %q", c.ID), s); err != nil {
			return nil, err
		}
		for _, n := range c.SignerNames {
			if other := p.bySigner[n]; other != nil {
				return nil, fmt.Errorf("signer %s is listed under the CAs %q and %q", n, other.ID, c.ID)
			}
			p.bySigner[n] = s
		}
		if c.Certificate != nil {
			subject := c.Certificate.Subject.String()
			p.byIssuer[subject] = append(p.byIssuer[subject], s)
		}
		// Counters start at 0 rather than appear on the first event, so that rate() and
		// increase() see that first event.
		metrics.CRLErrors.WithLabelValues(c.ID).Add(0)
		for _, r := range revocation.OCSPResults() {
			metrics.OCSPResponses.WithLabelValues(c.ID, string(r)).Add(0)
		}
	}
	for _, r := range revocation.RevocationReasons() {
		metrics.Revocations.WithLabelValues(r.String()).Add(0)
	}
	// Signer ids after CA ids, so that a CA keeps its own id whatever the signer names.
	for _, c := range cas {
		for _, n := range c.SignerNames {
			if err := route(IDFor(n), "signer "+n, p.cas[c.ID]); err != nil {
				return nil, err
			}
		}
	}
	inv.AddHandler(handler{p})
	return p, nil
}

// handler marks the CRL of a CA dirty when one of its revocations changes, and counts
// revocations.
type handler struct{ p *Publisher }

func (h handler) OnAdd(r *inventory.Record, initial bool) {
	if r.Revocation == nil {
		return
	}
	// Past the initial list, a certificate added already revoked was revoked while the
	// watch was down (it is relisted as new).
	if !initial {
		metrics.Revocations.WithLabelValues(reasonName(r.Revocation.Reason)).Inc()
	}
	h.p.markDirty(r)
}

func (h handler) OnUpdate(old, r *inventory.Record) {
	or, nr := old.Revocation, r.Revocation
	if (or == nil) != (nr == nil) || (nr != nil && *or != *nr) {
		h.p.markDirty(r)
	}
	// A revocation, or a certificateHold made final with another reason; not a hold
	// whose message changed.
	if nr != nil && (or == nil || or.Reason != nr.Reason) {
		metrics.Revocations.WithLabelValues(reasonName(nr.Reason)).Inc()
	}
}

func (h handler) OnDelete(r *inventory.Record) {
	if r.Revocation != nil {
		h.p.markDirty(r)
	}
}

// reasonName is the RFC 5280 name of an API revocation reason, "unspecified" for one
// that is not (the API refuses those; the CRL says unspecified too).
func reasonName(apiReason string) string {
	r, err := revocation.ParseReason(apiReason)
	if err != nil {
		r = revocation.Unspecified
	}
	return r.String()
}

// caOf returns the published CA that issued r, or nil: the one CA whose subject is r's
// issuer; when none or several are, the CA of r's signer, if its subject is r's issuer or
// unknown; when several share the issuer and the signer does not tell, the one whose key
// verifies r's certificate (read from the API: a Record does not hold it).
func (p *Publisher) caOf(r *inventory.Record) *caState {
	s, ambiguous := p.placed(r)
	if !ambiguous {
		return s
	}
	p.memoMu.Lock()
	s, known := p.memoName[r.Name]
	p.memoMu.Unlock()
	if known {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ic, err := p.inv.Get(ctx, r.Name)
	if err != nil {
		klog.ErrorS(err, "Cannot tell which CA issued a certificate", "record", r.Name, "issuer", r.Issuer)
		return nil
	}
	if cert, err := pemutil.FirstCertificate(ic.Spec.Certificate); err == nil {
		for _, c := range p.byIssuer[r.Issuer] {
			if cert.CheckSignatureFrom(c.Certificate) == nil {
				s = c
				break
			}
		}
	}
	p.memoMu.Lock()
	p.memoName[r.Name] = s // a record's certificate never changes
	p.memoMu.Unlock()
	return s
}

// placed is caOf from r's issuer and signer alone; ambiguous when several CAs share r's
// issuer and its signer does not tell which.
func (p *Publisher) placed(r *inventory.Record) (s *caState, ambiguous bool) {
	key := [2]string{r.Issuer, r.SignerName}
	p.memoMu.Lock()
	s, known := p.memo[key]
	p.memoMu.Unlock()
	if known {
		return s, s == nil && len(p.byIssuer[r.Issuer]) > 1
	}
	issuer := r.Issuer
	byIssuer := p.byIssuer[issuer]
	switch signer := p.bySigner[r.SignerName]; {
	case issuer != "" && len(byIssuer) == 1:
		s = byIssuer[0]
	case signer != nil && (issuer == "" || signer.Certificate == nil || signer.Certificate.Subject.String() == issuer):
		s = signer
	}
	p.memoMu.Lock()
	p.memo[key] = s
	p.memoMu.Unlock()
	return s, s == nil && len(byIssuer) > 1
}

// markDirty marks the CRL of r's CA for regeneration (of every CA r may be of, when its
// issuer and signer do not tell).
func (p *Publisher) markDirty(r *inventory.Record) {
	s, ambiguous := p.placed(r)
	cas := []*caState{s}
	if ambiguous {
		cas = p.byIssuer[r.Issuer]
	}
	for _, s := range cas {
		if s == nil {
			continue
		}
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run keeps the CRLs current until ctx is done. While it runs, the publisher is the
// source of the inventory gauges of /metrics (metrics.SetInventorySource).
func (p *Publisher) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("publisher")
	defer metrics.SetInventorySource(p.countInventory)()
	if !cache.WaitForNamedCacheSync("publisher", ctx.Done(), p.inv.Synced) {
		return
	}
	tick := p.clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, s := range p.cas {
			if err := p.refresh(ctx, s); err != nil {
				metrics.CRLErrors.WithLabelValues(s.ID).Inc()
				logger.Error(err, "Failed to regenerate CRL", "ca", s.ID)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C():
		}
	}
}

// refresh regenerates a CA's CRL when a revocation changed or half its validity passed.
func (p *Publisher) refresh(ctx context.Context, s *caState) error {
	now := p.clock.Now()
	s.mu.Lock()
	due := s.dirty || s.crl == nil || now.After(s.nextUpdate.Add(-p.validity(s)/2))
	s.dirty = false
	s.mu.Unlock()
	if !due {
		return nil
	}
	entries := p.entries(s, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	// CRL numbers only grow: the time in nanoseconds, or one more than the last.
	number := big.NewInt(now.UnixNano())
	if s.number != nil && number.Cmp(s.number) <= 0 {
		number = new(big.Int).Add(s.number, big.NewInt(1))
	}
	crl, err := s.Authority.CRL(ctx, entries, number, now)
	if err != nil {
		s.dirty = true
		return err
	}
	s.crl, s.number, s.nextUpdate = crl, number, now.Add(p.validity(s))
	// thisUpdate and nextUpdate as revocation.Authority.CRL writes them: to the second.
	thisUpdate := now.Truncate(time.Second)
	metrics.CRLSize.WithLabelValues(s.ID).Set(float64(len(crl)))
	metrics.CRLEntries.WithLabelValues(s.ID).Set(float64(len(entries)))
	metrics.CRLThisUpdate.WithLabelValues(s.ID).Set(float64(thisUpdate.Unix()))
	metrics.CRLNextUpdate.WithLabelValues(s.ID).Set(float64(thisUpdate.Add(p.validity(s)).Unix()))
	return nil
}

func (p *Publisher) validity(s *caState) time.Duration {
	if s.Authority.CRLValidity > 0 {
		return s.Authority.CRLValidity
	}
	return revocation.DefaultCRLValidity
}

// entries are the CA's revoked certificates from the inventory, but for those expired at
// now, which the CRL leaves out.
func (p *Publisher) entries(s *caState, now time.Time) []revocation.Entry {
	var out []revocation.Entry
	for _, r := range p.revoked(now) {
		if e, ok := entry(r); ok && p.caOf(r) == s {
			out = append(out, e)
		}
	}
	return out
}

// revoked are the inventory's revoked records whose certificate has not expired at now,
// as revocation.Authority.CRL sees it.
func (p *Publisher) revoked(now time.Time) []*inventory.Record {
	var out []*inventory.Record
	p.inv.RangeRevoked(func(r *inventory.Record) {
		if !r.Expired(now) {
			out = append(out, r)
		}
	})
	return out
}

func entry(r *inventory.Record) (revocation.Entry, bool) {
	rev := r.Revocation
	if rev == nil {
		return revocation.Entry{}, false
	}
	serial, ok := new(big.Int).SetString(r.Serial, 16)
	if !ok {
		return revocation.Entry{}, false
	}
	reason, err := revocation.ParseReason(rev.Reason)
	if err != nil {
		reason = revocation.Unspecified
	}
	return revocation.Entry{Serial: serial, RevokedAt: rev.Time.Time, Reason: reason, NotAfter: r.NotAfter()}, true
}

// lookup answers OCSP for a CA from the inventory. A serial is revoked when any of its
// records is: a second, unrevoked record of the same certificate (created by hand) must not
// make a revoked certificate "good".
func (p *Publisher) lookup(s *caState) func(*big.Int) revocation.Status {
	return func(serial *big.Int) revocation.Status {
		var status revocation.Status
		for _, r := range p.inv.BySerial(serial.Text(16)) {
			if p.caOf(r) != s {
				continue
			}
			if e, revoked := entry(r); revoked {
				return revocation.Status{Known: true, Revoked: true, Entry: e}
			}
			status.Known = true
		}
		return status
	}
}

// Handler serves /crl/<id>.crl and /ocsp/<id>, for the id of every CA and of every signer
// (which serves its CA's).
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	for id, s := range p.routes {
		id, s := id, s
		mux.Handle("/crl/"+id+".crl", revocation.CRLHandler(func() ([]byte, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.crl == nil {
				return nil, fmt.Errorf("the CRL of %s is not built yet", s.ID)
			}
			return s.crl, nil
		}))
		observe := func(r revocation.OCSPResult) { metrics.OCSPResponses.WithLabelValues(s.ID, string(r)).Inc() }
		ocsp := revocation.OCSPWhenReady(p.inv.Synced, revocation.OCSPHandler(s.Authority, p.lookup(s), p.clock.Now, observe), observe)
		mux.Handle("/ocsp/"+id, ocsp)
		mux.Handle("/ocsp/"+id+"/", http.StripPrefix("/ocsp/"+id, ocsp))
	}
	return mux
}

// URLs returns the CRL and OCSP URLs of a signer's CA under base, or nil when the signer's
// CA is not published.
func (p *Publisher) URLs(base, signerName string) (crl, ocsp []string) {
	s := p.bySigner[signerName]
	if s == nil || base == "" {
		return nil, nil
	}
	base = strings.TrimSuffix(base, "/")
	return []string{base + "/crl/" + s.ID + ".crl"}, []string{base + "/ocsp/" + s.ID}
}
