package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	kcsrv1alpha1 "kcsr.dev/kcsr/pkg/apis/kcsr/v1alpha1"
)

func record(name, serial, fingerprint string, revoked bool) *kcsrv1alpha1.IssuedCertificate {
	ic := &kcsrv1alpha1.IssuedCertificate{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       kcsrv1alpha1.IssuedCertificateSpec{SerialNumber: serial, SHA256Fingerprint: fingerprint, SignerName: "kubernetes.io/kube-apiserver-client", NotAfter: metav1.NewTime(time.Unix(1e9, 0))},
	}
	if revoked {
		ic.Status.Revocation = &kcsrv1alpha1.Revocation{Reason: "keyCompromise"}
	}
	return ic
}

func names(rs []*Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

// TestRevoked: a certificate is revoked when any of its records is, whatever the case of
// the fingerprint asked; nothing is answered until the inventory is loaded.
func TestRevoked(t *testing.T) {
	x := NewIndex()
	if _, err := x.Revoked("aaaa"); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("before the inventory is loaded: %v; want ErrNotLoaded", err)
	}
	x.ReplaceWith(
		record("a1", "a1", "AAAA", true),
		record("a2", "a1", "aaaa", false), // a second record of the same certificate, not revoked
		record("b1", "b1", "bbbb", false),
	)
	for fp, want := range map[string]string{"aaaa": "a1", "AAAA": "a1", "bbbb": "", "cccc": ""} {
		got, err := x.Revoked(fp)
		if err != nil {
			t.Fatalf("Revoked(%s): %v", fp, err)
		}
		if name := func() string {
			if got == nil {
				return ""
			}
			return got.Name
		}(); name != want {
			t.Errorf("Revoked(%s) = %q; want %q", fp, name, want)
		}
	}
	if got := names(x.BySerial("a1")); !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("BySerial(a1) = %v; want both records", got)
	}
}

// TestByFingerprint: the login records of the FingerprintSigners are found by
// fingerprint, revoked or not, through puts and deletes; the other signers' records, and
// their records not issued for login, are not; nothing
// is answered until the whole inventory is loaded (the revoked records alone are not
// enough: "no record" must mean none).
func TestByFingerprint(t *testing.T) {
	const upstream = "example.com/step"
	of := func(ic *kcsrv1alpha1.IssuedCertificate, signerName string) *kcsrv1alpha1.IssuedCertificate {
		ic.Spec.SignerName, ic.Spec.Login = signerName, true
		return ic
	}
	notLogin := of(record("d", "4", "dddd", false), upstream)
	notLogin.Spec.Login = false
	x := NewIndex()
	x.FingerprintSigners = map[string]bool{upstream: true}
	if _, err := x.ByFingerprint("aaaa"); !errors.Is(err, ErrNotLoaded) {
		t.Fatalf("before the inventory is loaded: %v; want ErrNotLoaded", err)
	}
	x.ReplaceWith(
		of(record("a", "1", "AAAA", false), upstream),
		of(record("b", "2", "bbbb", false), "example.com/local"),
		notLogin,
	)
	want := func(fp string, wantNames ...string) {
		t.Helper()
		got, err := x.ByFingerprint(fp)
		if err != nil {
			t.Fatalf("ByFingerprint(%s): %v", fp, err)
		}
		if !slices.Equal(names(got), wantNames) {
			t.Errorf("ByFingerprint(%s) = %v; want %v", fp, names(got), wantNames)
		}
	}
	want("aaaa", "a")
	want("AAAA", "a")
	want("bbbb") // not a FingerprintSigner's
	want("dddd") // not issued for login
	x.Put(of(record("a", "1", "aaaa", true), upstream))
	x.Put(of(record("c", "3", "aaaa", false), upstream)) // recorded twice
	want("aaaa", "a", "c")
	if got, _ := x.ByFingerprint("aaaa"); got[0].Revocation == nil && got[1].Revocation == nil {
		t.Error("the revoked record lost its revocation")
	}
	x.Delete("a")
	want("aaaa", "c")
	x.Delete("c")
	want("aaaa")
	if len(x.byFingerprint) != 0 {
		t.Errorf("byFingerprint keeps %d empty entries", len(x.byFingerprint))
	}
}

// TestPutDelete: updates and deletes keep every map in step, also for two records of one
// serial, whichever is updated or deleted first.
func TestPutDelete(t *testing.T) {
	x := NewIndex()
	x.ReplaceWith(record("a", "5", "f5", false), record("b", "5", "f5", false), record("c", "6", "f6", false))
	x.Put(record("a", "5", "f5", true)) // revoke a
	if r, _ := x.Revoked("f5"); r == nil || r.Name != "a" {
		t.Fatalf("after revoking a: Revoked(f5) = %v", r)
	}
	if got := names(x.BySerial("5")); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("BySerial(5) after the update = %v", got)
	}
	x.Delete("b")
	if got := names(x.BySerial("5")); !slices.Equal(got, []string{"a"}) {
		t.Errorf("BySerial(5) after deleting b = %v", got)
	}
	x.Put(record("a", "5", "f5", false)) // a certificateHold lifted
	if r, _ := x.Revoked("f5"); r != nil {
		t.Errorf("after lifting the hold: Revoked(f5) = %v", r.Name)
	}
	x.Delete("a")
	x.Delete("nosuch")
	if got := x.BySerial("5"); len(got) != 0 || x.Len() != 1 {
		t.Errorf("after deleting a: BySerial(5) = %v, Len %d; want none, 1", names(got), x.Len())
	}
	var count int
	x.RangeRevoked(func(*Record) { count++ })
	if count != 0 {
		t.Errorf("%d revoked records left; want 0", count)
	}
}

// TestLookup: records are found by serial, CSR name and common name; the answer follows
// updates and deletes; nothing is answered before the inventory is loaded or for a field
// the Index does not keep.
func TestLookup(t *testing.T) {
	rec := func(name, serial, csrName, cn string) *kcsrv1alpha1.IssuedCertificate {
		ic := record(name, serial, "f"+serial, false)
		ic.Spec.CSRName, ic.Spec.CommonName = csrName, cn
		return ic
	}
	x := NewIndex()
	if _, ok := x.Lookup("spec.serialNumber", "a"); ok {
		t.Fatalf("Lookup answered before the inventory was loaded")
	}
	x.ReplaceWith(rec("r1", "a", "rahul", "rahul"), rec("r2", "b", "rahul-renew", "rahul"), rec("p1", "c", "priya", "priya"))
	lookup := func(field, value string) []string {
		t.Helper()
		names, ok := x.Lookup(field, value)
		if !ok {
			t.Fatalf("Lookup(%s, %s) did not answer", field, value)
		}
		slices.Sort(names)
		return names
	}
	for _, tc := range []struct {
		field, value string
		want         []string
	}{
		{"spec.serialNumber", "a", []string{"r1"}},
		{"spec.serialNumber", "A", []string{"r1"}},
		{"spec.csrName", "rahul", []string{"r1"}},
		{"spec.commonName", "rahul", []string{"r1", "r2"}},
		{"spec.commonName", "nobody", nil},
	} {
		if got := lookup(tc.field, tc.value); !slices.Equal(got, tc.want) {
			t.Errorf("Lookup(%s, %s) = %v; want %v", tc.field, tc.value, got, tc.want)
		}
	}
	x.Delete("r1")
	x.Put(rec("r3", "d", "rahul-laptop", "rahul"))
	if got := lookup("spec.commonName", "rahul"); !slices.Equal(got, []string{"r2", "r3"}) {
		t.Errorf("after deleting r1 and adding r3: %v; want [r2 r3]", got)
	}
	if got := lookup("spec.csrName", "rahul"); len(got) != 0 {
		t.Errorf("deleted r1 still found by CSR name: %v", got)
	}
	if _, ok := x.Lookup("spec.signerName", "kubernetes.io/kube-apiserver-client"); ok {
		t.Errorf("Lookup answered for a field it does not index")
	}
}

// recorder is a Handler writing down what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (h *recorder) add(s string) { h.mu.Lock(); h.events = append(h.events, s); h.mu.Unlock() }
func (h *recorder) OnAdd(r *Record, initial bool) {
	h.add(fmt.Sprintf("add %s initial=%v revoked=%v", r.Name, initial, r.Revocation != nil))
}
func (h *recorder) OnUpdate(old, r *Record) {
	h.add(fmt.Sprintf("update %s revoked=%v→%v", r.Name, old.Revocation != nil, r.Revocation != nil))
}
func (h *recorder) OnDelete(r *Record) { h.add("delete " + r.Name) }
func (h *recorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.events
	h.events = nil
	slices.Sort(out)
	return out
}

// TestReplaceDiff: a list after the first tells the handlers only what changed.
func TestReplaceDiff(t *testing.T) {
	x := NewIndex()
	h := &recorder{}
	x.AddHandler(h)
	x.ReplaceWith(record("a", "1", "f1", false), record("b", "2", "f2", false), record("c", "3", "f3", false))
	want := []string{"add a initial=true revoked=false", "add b initial=true revoked=false", "add c initial=true revoked=false"}
	if diff := cmp.Diff(want, h.take()); diff != "" {
		t.Errorf("first load (-want +got):\n%s", diff)
	}
	x.ReplaceWith(record("a", "1", "f1", false), record("b", "2", "f2", true), record("d", "4", "f4", true))
	want = []string{"add d initial=false revoked=true", "delete c", "update b revoked=false→true"}
	if diff := cmp.Diff(want, h.take()); diff != "" {
		t.Errorf("a relist (-want +got):\n%s", diff)
	}
}

// fakeSource serves a list in pages and watches the test drives; listing counts lists.
type fakeSource struct {
	mu      sync.Mutex
	items   []kcsrv1alpha1.IssuedCertificate
	rv      int
	lists   int
	limits  []int64
	watches chan *watch.FakeWatcher
}

func (s *fakeSource) List(_ context.Context, opts metav1.ListOptions) (*kcsrv1alpha1.IssuedCertificateList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := 0
	if opts.Continue == "" {
		s.lists++
	} else {
		from, _ = strconv.Atoi(opts.Continue)
	}
	s.limits = append(s.limits, opts.Limit)
	to := min(len(s.items), from+int(opts.Limit))
	l := &kcsrv1alpha1.IssuedCertificateList{Items: slices.Clone(s.items[from:to])}
	l.ResourceVersion = strconv.Itoa(s.rv)
	if to < len(s.items) {
		l.Continue = strconv.Itoa(to)
	}
	return l, nil
}

func (s *fakeSource) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	w := watch.NewFakeWithChanSize(10, false)
	s.watches <- w
	return w, nil
}

func (s *fakeSource) Get(_ context.Context, name string, _ metav1.GetOptions) (*kcsrv1alpha1.IssuedCertificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.items {
		if s.items[i].Name == name {
			return s.items[i].DeepCopy(), nil
		}
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: "kcsr.dev", Resource: "issuedcertificates"}, name)
}

// TestRun: the Index lists in pages, then follows the watch; when the watch's
// resourceVersion has been compacted away it lists again, and the handlers see what
// changed while it was not watching.
func TestRun(t *testing.T) {
	src := &fakeSource{watches: make(chan *watch.FakeWatcher, 1), rv: 10}
	for i := range 5 {
		src.items = append(src.items, *record(fmt.Sprint("r", i), fmt.Sprint(i), fmt.Sprint("f", i), i == 0))
	}
	x, h, ctx := runIndex(t, src, 2)

	w := <-src.watches
	if !x.Synced() || x.Len() != 5 {
		t.Fatalf("after the list: synced %v, %d records; want true, 5", x.Synced(), x.Len())
	}
	if !slices.Equal(src.limits, []int64{2, 2, 2}) {
		t.Errorf("list requests asked for %v records; want three pages of 2", src.limits)
	}
	h.take()

	revoked := record("r1", "1", "f1", true)
	revoked.ResourceVersion = "11"
	w.Modify(revoked)
	gone := record("r2", "2", "f2", false)
	gone.ResourceVersion = "12"
	w.Delete(gone)
	eventually(t, "the watch's events", func() bool { return x.Len() == 4 })
	if r, _ := x.Revoked("F1"); r == nil {
		t.Errorf("r1, revoked in the watch, is not revoked in the index")
	}

	// Compaction: the watch fails with 410 Gone; the Index lists again. Meanwhile r3 was
	// revoked and r5 created.
	src.mu.Lock()
	src.items = []kcsrv1alpha1.IssuedCertificate{src.items[0], *revoked, *record("r3", "3", "f3", true), src.items[4], *record("r5", "5", "f5", false)}
	src.rv = 20
	src.mu.Unlock()
	h.take()
	w.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
	<-src.watches
	want := []string{"add r5 initial=false revoked=false", "update r3 revoked=false→true"}
	if diff := cmp.Diff(want, h.take()); diff != "" {
		t.Errorf("the relist's changes (-want +got):\n%s", diff)
	}
	if src.lists != 2 {
		t.Errorf("%d lists; want 2", src.lists)
	}
	if r, _ := x.Revoked("f3"); r == nil || r.Name != "r3" {
		t.Errorf("r3, revoked while the watch was down, is not revoked in the index")
	}
	ic, err := x.Get(ctx, "r5")
	if err != nil || ic.Name != "r5" {
		t.Errorf("Get(r5) = %v, %v", ic, err)
	}
}

// runIndex runs a new Index over src, in pages of pageSize, with a recorder, until the
// test ends.
func runIndex(t *testing.T, src Source, pageSize int64) (*Index, *recorder, context.Context) {
	x := NewIndex()
	x.PageSize = pageSize
	h := &recorder{}
	x.AddHandler(h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx, src) }()
	t.Cleanup(func() { cancel(); <-done })
	return x, h, ctx
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCredentialFingerprint: only client-certificate credential ids carry a fingerprint.
func TestCredentialFingerprint(t *testing.T) {
	if fp, ok := CredentialFingerprint("X509SHA256=abcd"); !ok || fp != "abcd" {
		t.Errorf("X509SHA256=abcd: %q, %v", fp, ok)
	}
	if _, ok := CredentialFingerprint("JTI=123"); ok {
		t.Errorf("a token's credential id taken for a certificate's")
	}
}

// revocationSource is a fakeSource that also lists and follows the revoked records; each
// page of its list of all records waits for a value on pages.
type revocationSource struct {
	*fakeSource
	revoked []*kcsrv1alpha1.IssuedCertificate
	rev     int64
	events  chan RevocationEvent
	pages   chan struct{}
}

func (s *revocationSource) Revocations(context.Context) ([]*kcsrv1alpha1.IssuedCertificate, int64, error) {
	return s.revoked, s.rev, nil
}

func (s *revocationSource) WatchRevocations(context.Context, int64) <-chan RevocationEvent {
	return s.events
}

func (s *revocationSource) List(ctx context.Context, opts metav1.ListOptions) (*kcsrv1alpha1.IssuedCertificateList, error) {
	select {
	case <-s.pages:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.fakeSource.List(ctx, opts)
}

func at(ic *kcsrv1alpha1.IssuedCertificate, rev int) *kcsrv1alpha1.IssuedCertificate {
	ic.ResourceVersion = strconv.Itoa(rev)
	return ic
}

// TestRevokedFirst (issue 18 item 4): from a RevocationSource the Index answers the
// revocation check once the revoked records are read, before the whole list; a revocation
// during the list is enforced at once and survives the end of a list that read the record
// before it; of two states of a record the later wins, whichever stream brings it first.
func TestRevokedFirst(t *testing.T) {
	src := &revocationSource{
		fakeSource: &fakeSource{watches: make(chan *watch.FakeWatcher, 1), rv: 10},
		revoked:    []*kcsrv1alpha1.IssuedCertificate{at(record("r0", "0", "f0", true), 5)},
		rev:        10,
		events:     make(chan RevocationEvent),
		pages:      make(chan struct{}),
	}
	for i := range 4 {
		src.items = append(src.items, *at(record(fmt.Sprint("r", i), fmt.Sprint(i), fmt.Sprint("f", i), i == 0), 5))
	}
	x, h, _ := runIndex(t, src, 1)

	eventually(t, "the revoked records", x.RevocationsLoaded)
	if x.Synced() {
		t.Fatalf("synced before the list")
	}
	if r, err := x.Revoked("f0"); err != nil || r == nil {
		t.Errorf("Revoked(f0) before the whole list = %v, %v; want r0", r, err)
	}
	if r, err := x.Revoked("f1"); err != nil || r != nil {
		t.Errorf("Revoked(f1) before the whole list = %v, %v; want not revoked", r, err)
	}
	if _, ok := x.Lookup("spec.serialNumber", "1"); ok {
		t.Errorf("Lookup answered before the whole list")
	}
	if diff := cmp.Diff([]string{"add r0 initial=true revoked=true"}, h.take()); diff != "" {
		t.Errorf("the revoked records (-want +got):\n%s", diff)
	}

	// r1 revoked at revision 12, while the list (at revision 10) is read: enforced at
	// the end of the page being read (the Index's goroutine reads the change once the
	// goroutine following the revocations, which has it, has passed it on).
	src.pages <- struct{}{}
	src.pages <- struct{}{}
	src.events <- RevocationEvent{Record: at(record("r1", "1", "f1", true), 12), Rev: 12}
	time.Sleep(100 * time.Millisecond)
	src.pages <- struct{}{}
	eventually(t, "r1's revocation during the list", func() bool { r, _ := x.Revoked("f1"); return r != nil })
	if x.Synced() {
		t.Fatalf("synced before the last page")
	}
	src.pages <- struct{}{}
	w := <-src.watches
	if diff := cmp.Diff([]string{"add r1 initial=false revoked=true", "add r2 initial=true revoked=false", "add r3 initial=true revoked=false"}, h.take()); diff != "" {
		t.Errorf("the list (-want +got):\n%s", diff)
	}
	if !x.Synced() || x.Len() != 4 {
		t.Fatalf("after the list: synced %v, %d records", x.Synced(), x.Len())
	}
	if r, _ := x.Revoked("f1"); r == nil {
		t.Errorf("the list, at revision 10, undid r1's revocation at revision 12")
	}
	// The watch of all records brings r1's revocation again, then an older state of r2
	// is late on the revocation stream behind a newer one on the records'.
	w.Modify(at(record("r1", "1", "f1", true), 12))
	w.Modify(at(record("r2", "2", "f2", true), 14))
	eventually(t, "r2's revocation", func() bool { r, _ := x.Revoked("f2"); return r != nil })
	src.events <- RevocationEvent{Record: at(record("r2", "2", "f2", false), 13), Rev: 13}
	src.events <- RevocationEvent{Record: at(record("r3", "3", "f3", true), 15), Rev: 15}
	eventually(t, "r3's revocation", func() bool { r, _ := x.Revoked("f3"); return r != nil })
	if r, _ := x.Revoked("f2"); r == nil {
		t.Errorf("an older state of r2 (revision 13) replaced its newer one (14)")
	}
	// A hold lifted, then the record deleted, from the revocation stream.
	src.events <- RevocationEvent{Record: at(record("r3", "3", "f3", false), 16), Rev: 16}
	src.events <- RevocationEvent{Deleted: "r0", Rev: 17}
	eventually(t, "r0's deletion", func() bool { return x.Len() == 3 })
	if r, _ := x.Revoked("f3"); r != nil {
		t.Errorf("r3's hold is not lifted")
	}
	want := []string{"delete r0", "update r2 revoked=false→true", "update r3 revoked=false→true", "update r3 revoked=true→false"}
	if diff := cmp.Diff(want, h.take()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
