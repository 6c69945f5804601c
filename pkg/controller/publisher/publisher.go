// Package publisher is the revocation publisher: for each signing CA it keeps a CRL built
// from the IssuedCertificate inventory (regenerated within a second of every revocation
// and before half its validity has passed) and answers OCSP from the same inventory, kept
// in step with storage by an informer. It serves both over plain HTTP:
//
//	GET /crl/<id>.crl           DER CRL, application/pkix-crl
//	GET|POST /ocsp/<id>[/<req>] RFC 6960
//
// <id> is "cluster" for the cluster CA and the signer name with "/" replaced by "_" for a
// custom signer's own CA.
package publisher

import (
	"context"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
	"kcsr.dev/kcsr/pkg/revocation"
)

// SerialIndex indexes IssuedCertificates by serial number (hex); the informer must also
// carry FingerprintIndex for the authorization webhook.
const SerialIndex = "kcsr.dev/serial"

// IndexSerial is the informer indexer of SerialIndex.
func IndexSerial(obj any) ([]string, error) {
	if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
		return []string{ic.Spec.SerialNumber}, nil
	}
	return nil, nil
}

// CA is one signing CA whose revocations are published.
type CA struct {
	// ID names the CA in URLs.
	ID string
	// Authority signs its CRLs and OCSP responses.
	Authority *revocation.Authority
	// SignerNames are the signers that issue with this CA.
	SignerNames []string
}

// ClusterCAID is the ID of the cluster CA.
const ClusterCAID = "cluster"

// IDFor returns the URL ID of a signer's own CA.
func IDFor(signerName string) string { return strings.ReplaceAll(signerName, "/", "_") }

type caState struct {
	CA
	signers map[string]bool

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
	indexer  cache.Indexer
	synced   cache.InformerSynced
	clock    clock.WithTicker
	wake     chan struct{}
}

// New returns a publisher over the IssuedCertificate informer, which must carry
// SerialIndex (add it with IndexSerial before the informer starts).
func New(cas []CA, informer cache.SharedIndexInformer, clk clock.WithTicker) (*Publisher, error) {
	if clk == nil {
		clk = clock.RealClock{}
	}
	p := &Publisher{cas: map[string]*caState{}, bySigner: map[string]*caState{}, indexer: informer.GetIndexer(), synced: informer.HasSynced, clock: clk, wake: make(chan struct{}, 1)}
	for _, c := range cas {
		s := &caState{CA: c, signers: map[string]bool{}, dirty: true}
		for _, n := range c.SignerNames {
			s.signers[n] = true
			p.bySigner[n] = s
		}
		p.cas[c.ID] = s
	}
	changed := func(obj any) {
		if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok {
			p.markDirty(ic.Spec.SignerName)
		} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			if ic, ok := d.Obj.(*kcsrv1alpha1.IssuedCertificate); ok {
				p.markDirty(ic.Spec.SignerName)
			}
		}
	}
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ic, ok := obj.(*kcsrv1alpha1.IssuedCertificate); ok && ic.Status.Revocation != nil {
				changed(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			o, n := old.(*kcsrv1alpha1.IssuedCertificate), obj.(*kcsrv1alpha1.IssuedCertificate)
			if (o.Status.Revocation == nil) != (n.Status.Revocation == nil) || (n.Status.Revocation != nil && *o.Status.Revocation != *n.Status.Revocation) {
				changed(obj)
			}
		},
		DeleteFunc: changed,
	})
	return p, err
}

func (p *Publisher) markDirty(signerName string) {
	s := p.bySigner[signerName]
	if s == nil {
		return
	}
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run keeps the CRLs current until ctx is done.
func (p *Publisher) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("publisher")
	if !cache.WaitForNamedCacheSync("publisher", ctx.Done(), p.synced) {
		return
	}
	tick := p.clock.NewTicker(time.Second)
	defer tick.Stop()
	for {
		for _, s := range p.cas {
			if err := p.refresh(ctx, s); err != nil {
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
	entries := p.entries(s)
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
	return nil
}

func (p *Publisher) validity(s *caState) time.Duration {
	if s.Authority.CRLValidity > 0 {
		return s.Authority.CRLValidity
	}
	return revocation.DefaultCRLValidity
}

// entries are the CA's revoked certificates from the inventory.
func (p *Publisher) entries(s *caState) []revocation.Entry {
	var out []revocation.Entry
	for _, obj := range p.indexer.List() {
		ic := obj.(*kcsrv1alpha1.IssuedCertificate)
		if e, ok := entry(ic); ok && s.signers[ic.Spec.SignerName] {
			out = append(out, e)
		}
	}
	return out
}

func entry(ic *kcsrv1alpha1.IssuedCertificate) (revocation.Entry, bool) {
	r := ic.Status.Revocation
	if r == nil {
		return revocation.Entry{}, false
	}
	serial, ok := new(big.Int).SetString(ic.Spec.SerialNumber, 16)
	if !ok {
		return revocation.Entry{}, false
	}
	reason, err := revocation.ParseReason(r.Reason)
	if err != nil {
		reason = revocation.Unspecified
	}
	return revocation.Entry{Serial: serial, RevokedAt: r.Time.Time, Reason: reason, NotAfter: ic.Spec.NotAfter.Time}, true
}

// lookup answers OCSP for a CA from the inventory.
func (p *Publisher) lookup(s *caState) func(*big.Int) revocation.Status {
	return func(serial *big.Int) revocation.Status {
		objs, err := p.indexer.ByIndex(SerialIndex, serial.Text(16))
		if err != nil {
			return revocation.Status{}
		}
		for _, obj := range objs {
			ic := obj.(*kcsrv1alpha1.IssuedCertificate)
			if !s.signers[ic.Spec.SignerName] {
				continue
			}
			if e, revoked := entry(ic); revoked {
				return revocation.Status{Known: true, Revoked: true, Entry: e}
			}
			return revocation.Status{Known: true}
		}
		return revocation.Status{}
	}
}

// Handler serves /crl/<id>.crl, /ocsp/<id> and the authorization webhook /authorize.
func (p *Publisher) Handler() http.Handler {
	mux := http.NewServeMux()
	for id, s := range p.cas {
		s := s
		mux.Handle("/crl/"+id+".crl", revocation.CRLHandler(func() ([]byte, error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.crl == nil {
				return nil, fmt.Errorf("the CRL of %s is not built yet", id)
			}
			return s.crl, nil
		}))
		ocsp := revocation.OCSPHandler(s.Authority, p.lookup(s), p.clock.Now)
		mux.Handle("/ocsp/"+id, ocsp)
		mux.Handle("/ocsp/"+id+"/", http.StripPrefix("/ocsp/"+id, ocsp))
	}
	mux.Handle("/authorize", p.AuthorizationWebhook())
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
