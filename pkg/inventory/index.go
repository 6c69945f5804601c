package inventory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

// Record is what kcsr reads of one IssuedCertificate while it runs: enough for the
// revocation check at login, the CRL, OCSP, the inventory metrics and the inventory
// cleaner, and nothing else (no PEM, no names, no metadata): about 250 bytes with the
// index's maps, where the decoded object held by an informer was 6 KB. A Record never
// changes once in the Index (but for the revision it is known current at, which only the
// Index reads); an update replaces it.
type Record struct {
	// Name is the IssuedCertificate's name.
	Name string
	// Serial is the certificate's serial number, lower-case hex.
	Serial string
	// SignerName and Issuer (the CA's subject, RFC 2253) are the record's; the Index
	// keeps one copy of each distinct value.
	SignerName, Issuer string
	// Subject identifies whom the certificate was issued to (SubjectKey), to tell a
	// certificate that has been renewed.
	Subject uint64
	// Revocation is the record's revocation, nil when it is not revoked.
	Revocation *Revocation

	// fingerprint is the certificate's SHA-256 fingerprint (lower-case hex) for the
	// records of the Index's FingerprintSigners only, "" for the others.
	fingerprint string
	notAfter    int64 // Unix seconds
	// rev is the etcd revision the record is at (its resourceVersion), 0 when unknown:
	// of two states of a record, from the watch of the records and from that of the
	// revocations, the Index keeps the later.
	rev int64
	// nextSerial chains the records of one serial number (a certificate recorded twice);
	// keys and next chain the records by hashed CSR name and common name. Read and
	// written only under the Index's lock.
	nextSerial *Record
	keys       [numChains]uint64
	next       [numChains]*Record
}

// The fields the Index finds records by, besides the serial number: by a 64-bit hash of
// the value, so that a Record holds neither string. Lookup's callers check what they get.
const (
	chainCSRName = iota
	chainCommonName
	numChains
)

// LookupFields are the field selectors Lookup answers, as IssuedCertificate field labels.
var LookupFields = []string{"spec.serialNumber", "spec.csrName", "spec.commonName"}

// Revocation is a revoked record's revocation and its certificate's fingerprint.
type Revocation struct {
	kcsrv1alpha1.Revocation
	// Fingerprint is the certificate's SHA-256 fingerprint, lower-case hex.
	Fingerprint string
}

// NotAfter is the end of the certificate's validity.
func (r *Record) NotAfter() time.Time { return time.Unix(r.notAfter, 0) }

// Expired reports whether the certificate has expired at now.
func (r *Record) Expired(now time.Time) bool { return r.notAfter != 0 && r.NotAfter().Before(now) }

func (r *Record) same(o *Record) bool {
	if r.Name != o.Name || r.Serial != o.Serial || r.SignerName != o.SignerName || r.Issuer != o.Issuer || r.Subject != o.Subject || r.notAfter != o.notAfter || r.keys != o.keys || r.fingerprint != o.fingerprint {
		return false
	}
	if (r.Revocation == nil) != (o.Revocation == nil) {
		return false
	}
	return r.Revocation == nil || *r.Revocation == *o.Revocation
}

// Handler is told of every change the Index applies, in order, from the goroutine that
// runs it, after the change is visible to readers. initial is true for the records of
// the first load.
type Handler interface {
	OnAdd(r *Record, initial bool)
	OnUpdate(old, r *Record)
	OnDelete(r *Record)
}

// Source is where the Index reads the inventory from: the IssuedCertificate client.
type Source interface {
	List(ctx context.Context, opts metav1.ListOptions) (*kcsrv1alpha1.IssuedCertificateList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*kcsrv1alpha1.IssuedCertificate, error)
}

// RevocationSource is a Source that can also list and follow, apart, the records that
// were ever revoked (revoked now, or revoked and put back on hold): a few, where the
// records are many. The Index reads them first, and answers the revocation check as soon
// as it has them, before the rest of the inventory is loaded.
type RevocationSource interface {
	Source
	// Revocations returns every record that was ever revoked, as it is now, and the etcd
	// revision that is current at.
	Revocations(ctx context.Context) ([]*kcsrv1alpha1.IssuedCertificate, int64, error)
	// WatchRevocations sends what changes after rev until ctx is done or the watch
	// fails (a last event with Err), then closes the channel.
	WatchRevocations(ctx context.Context, rev int64) <-chan RevocationEvent
}

// RevocationEvent is one change of RevocationSource: a record's new state, or the name of
// a deleted record, at an etcd revision.
type RevocationEvent struct {
	Record  *kcsrv1alpha1.IssuedCertificate
	Deleted string
	Rev     int64
	Err     error
}

// DefaultPageSize is how many records one list request of the Index asks for.
const DefaultPageSize = 500

// ErrNotLoaded is the Index's answer before the inventory is loaded: it cannot tell a
// revoked certificate from a good one yet.
var ErrNotLoaded = errors.New("the revocation inventory is not loaded yet; retry in a moment")

// Index keeps a Record of every IssuedCertificate, fed by a paged list and a watch of the
// API (Run), so that a revocation is enforced as soon as the watch delivers it
// (milliseconds), on every replica. Unlike an informer it never holds the objects: a
// page of the list (PageSize records) is decoded, reduced to Records and dropped, and so
// is every watch event. The zero Index is not usable; call NewIndex.
type Index struct {
	// PageSize is how many records a list request asks for; DefaultPageSize when 0.
	// Set it before Run.
	PageSize int64
	// OnLoaded, when set, is called once, from Run's goroutine, when the inventory has
	// been loaded the first time. Set it before Run.
	OnLoaded func()
	// FingerprintSigners are the signers whose login records (spec.login) ByFingerprint
	// finds: those whose certificates log in only when recorded (the upstream login
	// signers, pkg/authn). Only those records hold a fingerprint. Set it before Run.
	FingerprintSigners map[string]bool

	mu       sync.RWMutex
	byName   map[string]*Record
	bySerial map[string]*Record // the head of each serial's chain
	chains   [numChains]map[uint64]*Record
	revoked  map[string][]*Record // the revoked records by fingerprint
	// byFingerprint are the records of FingerprintSigners by fingerprint.
	byFingerprint map[string][]*Record
	interned      map[string]string
	source        Source
	handlers      []Handler
	synced        atomic.Bool
	// revocationsLoaded is set once a RevocationSource's revoked records are in.
	revocationsLoaded atomic.Bool
	// revocations are the RevocationSource's changes, applied by Run's goroutine.
	revocations <-chan RevocationEvent
}

// NewIndex returns an empty Index, not loaded.
func NewIndex() *Index {
	return &Index{byName: map[string]*Record{}, bySerial: map[string]*Record{}, chains: [numChains]map[uint64]*Record{{}, {}}, revoked: map[string][]*Record{}, byFingerprint: map[string][]*Record{}, interned: map[string]string{}}
}

// AddHandler registers h for every change from now on. Register before Run to be told
// of the first load.
func (x *Index) AddHandler(h Handler) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.handlers = append(x.handlers, h)
}

// Synced reports whether the inventory has been loaded once.
func (x *Index) Synced() bool { return x.synced.Load() }

// RevocationsLoaded reports whether the Index knows every revoked certificate: once the
// inventory is loaded, or, from a RevocationSource, once its revoked records are, which
// does not wait for the rest.
func (x *Index) RevocationsLoaded() bool { return x.revocationsLoaded.Load() || x.synced.Load() }

// Len is the number of records held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.byName)
}

// Revoked returns a revoked record of the certificate with this SHA-256 fingerprint (hex,
// either case), nil when it has none. A certificate is revoked when any of its records is:
// a second, unrevoked record of it must not make it good. Until the revoked certificates
// are loaded (RevocationsLoaded) it fails closed with ErrNotLoaded.
func (x *Index) Revoked(fingerprint string) (*Record, error) {
	if !x.RevocationsLoaded() {
		return nil, ErrNotLoaded
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if rs := x.revoked[strings.ToLower(fingerprint)]; len(rs) > 0 {
		return rs[0], nil
	}
	return nil, nil
}

// ByFingerprint returns the login records (spec.login) of the certificate with this
// SHA-256 fingerprint (hex, either case) among those of FingerprintSigners, revoked or
// not: none when the inventory holds no such record. Until the whole inventory is
// loaded (Synced) it fails closed with ErrNotLoaded: "no record" must mean none.
func (x *Index) ByFingerprint(fingerprint string) ([]*Record, error) {
	if !x.Synced() {
		return nil, ErrNotLoaded
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.byFingerprint[strings.ToLower(fingerprint)]), nil
}

// BySerial returns the records of a serial number (lower-case hex).
func (x *Index) BySerial(serial string) []*Record {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []*Record
	for r := x.bySerial[serial]; r != nil; r = r.nextSerial {
		out = append(out, r)
	}
	return out
}

// Lookup returns the names of the records whose field (one of LookupFields) may be value,
// for an indexed field-selector list: a superset (a hash may collide), which the caller
// filters with the selector. ok is false when the Index cannot answer: not loaded, or a
// field it does not index.
func (x *Index) Lookup(field, value string) (names []string, ok bool) {
	if !x.Synced() {
		return nil, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	switch field {
	case "spec.serialNumber":
		for r := x.bySerial[strings.ToLower(value)]; r != nil; r = r.nextSerial {
			names = append(names, r.Name)
		}
	case "spec.csrName":
		names = x.chainNames(chainCSRName, value)
	case "spec.commonName":
		names = x.chainNames(chainCommonName, value)
	default:
		return nil, false
	}
	return names, true
}

func (x *Index) chainNames(c int, value string) []string {
	var names []string
	key := hashString(value)
	for r := x.chains[c][key]; r != nil; r = r.next[c] {
		if r.keys[c] == key {
			names = append(names, r.Name)
		}
	}
	return names
}

// Range calls f for every record, in no order, until f returns false. It holds the
// Index's read lock: f must not call the Index.
func (x *Index) Range(f func(*Record) bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, r := range x.byName {
		if !f(r) {
			return
		}
	}
}

// RangeRevoked calls f for every revoked record, in no order. It holds the Index's read
// lock: f must not call the Index.
func (x *Index) RangeRevoked(f func(*Record)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, rs := range x.revoked {
		for _, r := range rs {
			f(r)
		}
	}
}

// Get reads a whole record from the API, for what a Record does not hold (the
// certificate itself).
func (x *Index) Get(ctx context.Context, name string) (*kcsrv1alpha1.IssuedCertificate, error) {
	x.mu.RLock()
	src := x.source
	x.mu.RUnlock()
	if src == nil {
		return nil, fmt.Errorf("IssuedCertificate %s: the inventory index is not running", name)
	}
	return src.Get(ctx, name, metav1.GetOptions{})
}

// Run keeps the Index in step with src until ctx is done: a paged list, then a watch from
// its resourceVersion, listing again whenever the watch cannot resume (its
// resourceVersion compacted away). When src is a RevocationSource, the revoked records
// are read first and followed all along (RevocationsLoaded), so that the revocation
// check neither waits for the whole list nor misses a revocation during one.
func (x *Index) Run(ctx context.Context, src Source) {
	logger := klog.FromContext(ctx).WithName("inventory-index")
	x.mu.Lock()
	x.source = src
	x.mu.Unlock()
	delay := func(attempt int) time.Duration {
		return min(time.Duration(1<<min(attempt, 5))*100*time.Millisecond, 5*time.Second)
	}
	if rs, ok := src.(RevocationSource); ok {
		for attempt := 0; ; attempt++ {
			start := time.Now()
			items, rev, err := rs.Revocations(ctx)
			if err == nil {
				for _, ic := range items {
					x.put(ic, true)
				}
				x.revocationsLoaded.Store(true)
				logger.Info("Loaded the revoked certificates", "records", len(items), "revision", rev, "duration", time.Since(start))
				events := make(chan RevocationEvent, 64)
				x.revocations = events
				go followRevocations(ctx, rs, rev, events)
				break
			}
			if ctx.Err() != nil {
				return
			}
			logger.Error(err, "Failed to list the revoked certificates; retrying")
			sleep(ctx, delay(attempt))
		}
	}
	loggedLoad := false
	for attempt := 0; ctx.Err() == nil; {
		start := time.Now()
		rv, err := x.relist(ctx, src)
		if err != nil {
			if ctx.Err() == nil {
				logger.Error(err, "Failed to list the inventory; retrying")
				sleep(ctx, delay(attempt))
				attempt++
			}
			continue
		}
		attempt = 0
		if !loggedLoad {
			if x.OnLoaded != nil {
				x.OnLoaded()
			}
			logger.Info("Loaded the inventory", "records", x.Len(), "resourceVersion", rv, "duration", time.Since(start))
			loggedLoad = true
		} else {
			logger.V(2).Info("Listed the inventory", "records", x.Len(), "resourceVersion", rv, "duration", time.Since(start))
		}
		for ctx.Err() == nil {
			rv, err = x.watch(ctx, src, rv)
			if err == nil {
				attempt = 0
				continue // the watch timed out: resume it
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) || attempt >= 5 {
				logger.V(2).Info("Listing the inventory again", "reason", err.Error())
				break
			}
			if ctx.Err() == nil {
				logger.Error(err, "The inventory watch failed; resuming", "resourceVersion", rv)
				sleep(ctx, delay(attempt))
				attempt++
			}
		}
	}
}

// followRevocations sends rs's changes after rev into events until ctx is done. When the
// watch fails (its revision compacted away), it lists the revoked records again and sends
// them as changes: the Index keeps the later of two states of a record.
func followRevocations(ctx context.Context, rs RevocationSource, rev int64, events chan<- RevocationEvent) {
	logger := klog.FromContext(ctx).WithName("inventory-index")
	for attempt := 0; ctx.Err() == nil; {
		for ev := range rs.WatchRevocations(ctx, rev) {
			if ev.Err != nil {
				if ctx.Err() == nil {
					logger.Error(ev.Err, "The watch of revoked certificates failed; listing them again", "revision", rev)
				}
				break
			}
			attempt = 0
			rev = ev.Rev
			select {
			case events <- ev:
			case <-ctx.Done():
				return
			}
		}
		for ctx.Err() == nil {
			items, listRev, err := rs.Revocations(ctx)
			if err == nil {
				for _, ic := range items {
					select {
					case events <- RevocationEvent{Record: ic, Rev: listRev}:
					case <-ctx.Done():
						return
					}
				}
				rev = listRev
				break
			}
			logger.Error(err, "Failed to list the revoked certificates; retrying")
			sleep(ctx, min(time.Duration(1<<min(attempt, 5))*100*time.Millisecond, 5*time.Second))
			attempt++
		}
	}
}

// applyRevocation applies one change of the revoked records.
func (x *Index) applyRevocation(ev RevocationEvent) {
	switch {
	case ev.Record != nil:
		x.put(ev.Record, false)
	case ev.Deleted != "":
		x.delete(ev.Deleted, ev.Rev)
	}
}

// applyRevocations applies the changes of the revoked records waiting, without blocking.
func (x *Index) applyRevocations() {
	for {
		select {
		case ev, ok := <-x.revocations:
			if !ok {
				return
			}
			x.applyRevocation(ev)
		default:
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// relist reads every record, a page at a time, and replaces the Index's content with
// them; it returns the list's resourceVersion.
func (x *Index) relist(ctx context.Context, src Source) (string, error) {
	fresh := make(map[string]*Record, x.Len())
	opts := metav1.ListOptions{Limit: x.PageSize}
	if opts.Limit <= 0 {
		opts.Limit = DefaultPageSize
	}
	for {
		list, err := src.List(ctx, opts)
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			r := x.newRecord(&list.Items[i])
			fresh[r.Name] = r
		}
		// A revocation during a list of a million records is enforced now, not when
		// the list is done.
		x.applyRevocations()
		if list.Continue == "" {
			x.replace(fresh, parseRev(list.ResourceVersion))
			return list.ResourceVersion, nil
		}
		opts.Continue = list.Continue
	}
}

// watch applies the events of one watch from rv until it ends; it returns the last
// resourceVersion seen, and the error that ended the watch, nil for a timeout.
func (x *Index) watch(ctx context.Context, src Source, rv string) (string, error) {
	timeout := int64(300 + rand.IntN(300)) // as client-go's reflector: 5 to 10 minutes
	w, err := src.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
	if err != nil {
		return rv, err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, ctx.Err()
		case ev, ok := <-x.revocations:
			if ok {
				x.applyRevocation(ev)
			}
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil
			}
			if ev.Type == watch.Error {
				return rv, apierrors.FromObject(ev.Object)
			}
			ic, ok := ev.Object.(*kcsrv1alpha1.IssuedCertificate)
			if !ok {
				return rv, fmt.Errorf("unexpected %T in the inventory watch", ev.Object)
			}
			rv = ic.ResourceVersion
			switch ev.Type {
			case watch.Added, watch.Modified:
				x.Put(ic)
			case watch.Deleted:
				x.delete(ic.Name, parseRev(ic.ResourceVersion))
			}
		}
	}
}

// Put adds or replaces the record of ic and tells the handlers; a state older than the
// one held (by resourceVersion) is ignored.
func (x *Index) Put(ic *kcsrv1alpha1.IssuedCertificate) { x.put(ic, false) }

func (x *Index) put(ic *kcsrv1alpha1.IssuedCertificate, initial bool) {
	r := x.newRecord(ic)
	x.mu.Lock()
	old := x.byName[r.Name]
	if old != nil && (old.same(r) || r.rev != 0 && old.rev > r.rev) {
		if old.rev < r.rev {
			old.rev = r.rev
		}
		x.mu.Unlock()
		return
	}
	if old != nil {
		x.unlink(old)
	}
	x.link(r)
	handlers := x.handlers
	x.mu.Unlock()
	for _, h := range handlers {
		if old == nil {
			h.OnAdd(r, initial)
		} else {
			h.OnUpdate(old, r)
		}
	}
}

// Delete removes the record named name and tells the handlers.
func (x *Index) Delete(name string) { x.delete(name, 0) }

// delete removes the record named name, unless it is at a revision after rev (0: any).
func (x *Index) delete(name string, rev int64) {
	x.mu.Lock()
	old := x.byName[name]
	if old == nil || rev != 0 && old.rev > rev {
		x.mu.Unlock()
		return
	}
	x.unlink(old)
	handlers := x.handlers
	x.mu.Unlock()
	for _, h := range handlers {
		h.OnDelete(old)
	}
}

// Replace makes records, by name, the Index's whole content (a list), marks it loaded,
// and tells the handlers what changed: on the first load, every record is an initial add.
// The Index keeps the map. Put, Delete and Replace are called from one goroutine: Run's.
func (x *Index) Replace(records map[string]*Record) { x.replace(records, 0) }

// replace is Replace of a list at etcd revision rev (0: unknown), keeping the records the
// Index holds at a later revision (from the watch of revocations during the list).
func (x *Index) replace(records map[string]*Record, rev int64) {
	x.mu.Lock()
	old := x.byName
	if rev != 0 {
		for name, r := range old {
			if r.rev > rev {
				records[name] = r
			}
		}
	}
	initial := !x.synced.Load()
	x.byName, x.bySerial, x.revoked, x.byFingerprint = records, make(map[string]*Record, len(records)), map[string][]*Record{}, map[string][]*Record{}
	for c := range x.chains {
		x.chains[c] = make(map[uint64]*Record, len(records))
	}
	for _, r := range records {
		r.nextSerial, r.next = nil, [numChains]*Record{}
		x.link(r)
	}
	x.synced.Store(true)
	handlers := x.handlers
	x.mu.Unlock()
	// Only this goroutine writes the maps: they can be read here without the lock.
	for _, h := range handlers {
		for _, r := range records {
			switch o := old[r.Name]; {
			case o == nil:
				h.OnAdd(r, initial)
			case !o.same(r):
				h.OnUpdate(o, r)
			}
		}
		for name, o := range old {
			if records[name] == nil {
				h.OnDelete(o)
			}
		}
	}
}

// ReplaceWith is Replace over whole objects, for tests and tools.
func (x *Index) ReplaceWith(items ...*kcsrv1alpha1.IssuedCertificate) {
	records := make(map[string]*Record, len(items))
	for _, ic := range items {
		r := x.newRecord(ic)
		records[r.Name] = r
	}
	x.Replace(records)
}

// link adds r to the maps; the caller holds the write lock.
func (x *Index) link(r *Record) {
	x.byName[r.Name] = r
	r.nextSerial = x.bySerial[r.Serial]
	x.bySerial[r.Serial] = r
	for c, key := range r.keys {
		r.next[c] = x.chains[c][key]
		x.chains[c][key] = r
	}
	if rev := r.Revocation; rev != nil {
		x.revoked[rev.Fingerprint] = append(x.revoked[rev.Fingerprint], r)
	}
	if r.fingerprint != "" {
		x.byFingerprint[r.fingerprint] = append(x.byFingerprint[r.fingerprint], r)
	}
}

// unlink removes r from the maps; the caller holds the write lock.
func (x *Index) unlink(r *Record) {
	delete(x.byName, r.Name)
	if head := x.bySerial[r.Serial]; head == r {
		if r.nextSerial == nil {
			delete(x.bySerial, r.Serial)
		} else {
			x.bySerial[r.Serial] = r.nextSerial
		}
	} else {
		for p := head; p != nil; p = p.nextSerial {
			if p.nextSerial == r {
				p.nextSerial = r.nextSerial
				break
			}
		}
	}
	for c, key := range r.keys {
		if head := x.chains[c][key]; head == r {
			if r.next[c] == nil {
				delete(x.chains[c], key)
			} else {
				x.chains[c][key] = r.next[c]
			}
		} else {
			for p := head; p != nil; p = p.next[c] {
				if p.next[c] == r {
					p.next[c] = r.next[c]
					break
				}
			}
		}
	}
	if rev := r.Revocation; rev != nil {
		rs := slices.DeleteFunc(x.revoked[rev.Fingerprint], func(o *Record) bool { return o == r })
		if len(rs) == 0 {
			delete(x.revoked, rev.Fingerprint)
		} else {
			x.revoked[rev.Fingerprint] = rs
		}
	}
	if r.fingerprint != "" {
		rs := slices.DeleteFunc(x.byFingerprint[r.fingerprint], func(o *Record) bool { return o == r })
		if len(rs) == 0 {
			delete(x.byFingerprint, r.fingerprint)
		} else {
			x.byFingerprint[r.fingerprint] = rs
		}
	}
}

// newRecord reduces ic to its Record.
func (x *Index) newRecord(ic *kcsrv1alpha1.IssuedCertificate) *Record {
	sp := &ic.Spec
	r := &Record{
		rev:        parseRev(ic.ResourceVersion),
		Name:       ic.Name,
		Serial:     strings.ToLower(sp.SerialNumber),
		SignerName: x.intern(sp.SignerName),
		Issuer:     x.intern(sp.Issuer),
		Subject:    SubjectKey(sp),
		keys:       [numChains]uint64{chainCSRName: hashString(sp.CSRName), chainCommonName: hashString(sp.CommonName)},
	}
	if !sp.NotAfter.IsZero() {
		r.notAfter = sp.NotAfter.Unix()
	}
	if rev := ic.Status.Revocation; rev != nil {
		r.Revocation = &Revocation{Revocation: *rev, Fingerprint: strings.ToLower(sp.SHA256Fingerprint)}
	}
	if sp.Login && x.FingerprintSigners[sp.SignerName] {
		r.fingerprint = strings.ToLower(sp.SHA256Fingerprint)
	}
	return r
}

// parseRev is a resourceVersion as an etcd revision, 0 when it is not one.
func parseRev(rv string) int64 {
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// intern returns the Index's copy of s, for the few distinct signer names and issuers.
func (x *Index) intern(s string) string {
	x.mu.RLock()
	c, ok := x.interned[s]
	x.mu.RUnlock()
	if ok {
		return c
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if c, ok := x.interned[s]; ok {
		return c
	}
	s = strings.Clone(s)
	x.interned[s] = s
	return s
}

// SubjectKey identifies whom a certificate was issued to, for telling a renewal: the same
// signer, common name and organizations (a node, a user and their groups), and, for a
// certificate without a common name, the same subject alternative names. It is a 64-bit
// hash, not a string, to keep a Record small; two subjects colliding (odds of 2⁻⁶⁴ a pair)
// would only count one certificate as renewed.
func SubjectKey(sp *kcsrv1alpha1.IssuedCertificateSpec) uint64 {
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

func hashString(s string) uint64 { return maphash.String(subjectSeed, s) }

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

// CredentialFingerprint returns the SHA-256 fingerprint of a user.extra
// "authentication.kubernetes.io/credential-id" value (user.CredentialIDKey) naming a
// client certificate, "X509SHA256=<hex>"; false for another kind of credential.
func CredentialFingerprint(credentialID string) (string, bool) {
	return strings.CutPrefix(credentialID, "X509SHA256=")
}
