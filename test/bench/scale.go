package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// scaleResult is kcsr server with many CSRs and inventory records stored.
type scaleResult struct {
	CSRs        int     `json:"csrs"`
	Issued      int     `json:"issuedCertificates"`
	Events      int     `json:"events"`
	FillSeconds float64 `json:"fillSeconds"`
	FillPerSec  float64 `json:"fillIssuedPerSec"`
	// ChunkRates is the issuance rate of each fill chunk, to tell whether it holds as the
	// store grows.
	ChunkRates  []float64 `json:"fillChunkIssuedPerSec"`
	StorageDB   int64     `json:"storageDbBytes"`
	StorageDisk int64     `json:"storageDiskBytes"`
	EmptyDB     int64     `json:"storageDbEmptyBytes"`
	// SettledDB is the database after compaction and defragmentation (settle).
	SettledDB int64 `json:"storageDbSettledBytes"`

	// Memory of the server process: empty (after the warm-up), filled, after the reads
	// below, and after a cold start; LiveHeap* is the Go heap right after a forced GC.
	MemEmpty       memory `json:"memoryEmpty"`
	MemFilled      memory `json:"memoryFilled"`
	MemReads       memory `json:"memoryAfterReads"`
	MemStart       memory `json:"memoryAfterColdStart"`
	LiveHeapEmpty  int64  `json:"liveHeapEmptyBytes"`
	LiveHeapFilled int64  `json:"liveHeapFilledBytes"`
	LiveHeapStart  int64  `json:"liveHeapColdStartBytes"`

	// Median of three, milliseconds.
	ListCSRs        float64 `json:"listCsrsMs"`
	ListCSRsPaged   float64 `json:"listCsrsPaged500Ms"`
	ListIssued      float64 `json:"listIssuedMs"`
	ListIssuedPaged float64 `json:"listIssuedPaged500Ms"`
	// IssuedPage is the page size of the full lists of IssuedCertificates: 500 (kubectl's
	// --chunk-size) up to unpagedMax records, then 10,000: etcd counts the keys after
	// every page, so a million records in pages of 500 take past etcd's compaction of
	// the list's revision (docs/operations.md).
	IssuedPage int64 `json:"issuedPage"`
	// IssuedFirstPage is the first page of 500 (kubectl get --chunk-size=500); the
	// lookups are field-selector lists by serial and by CSR name, paged as kubectl pages.
	IssuedFirstPage float64 `json:"listIssuedFirstPage500Ms"`
	LookupSerial    float64 `json:"lookupBySerialMs"`
	LookupCSRName   float64 `json:"lookupByCsrNameMs"`
	// Revocation is the time from a revocation's write to the first refused login.
	Revocation       float64   `json:"revocationToRefusedLoginMs"`
	WatchCSRsFirst   float64   `json:"watchCsrsFirstEventMs"`
	WatchCSRsAll     float64   `json:"watchCsrsAllInitialEventsMs"`
	WatchIssuedFirst float64   `json:"watchIssuedFirstEventMs"`
	WatchIssuedAll   float64   `json:"watchIssuedAllInitialEventsMs"`
	StopSeconds      []float64 `json:"stopSeconds"`
	ColdStartSeconds []float64 `json:"coldStartSeconds"`
	// InventoryLoadSeconds is, for each cold start, exec → the whole inventory index
	// loaded ("Loaded the inventory" in the server's log); /readyz waits only for the
	// revoked records (ColdStartSeconds).
	InventoryLoadSeconds []float64 `json:"inventoryLoadSeconds"`

	// The projection to 1M stored objects, from the live heap after the cold start (no
	// watch-cache history, nothing in flight): RSS = RSS empty + 2 × live heap per object
	// (the Go heap goal at GOGC=100) + the bbolt file fully resident. LoadedPerObject is
	// the live heap per object right after the fill, watch-cache history of the writes
	// included.
	LiveHeapPerObject float64 `json:"liveHeapPerObjectBytes"`
	LoadedPerObject   float64 `json:"liveHeapPerObjectUnderLoadBytes"`
	DBPerObject       float64 `json:"dbPerObjectBytes"`
	// RSSPerIssued is the server's RSS after a cold start, less its RSS empty, per
	// IssuedCertificate (the CSRs the cleaner has not collected, counted with them), and
	// ProjectedRSS1M what it makes for a million.
	RSSPerIssued   float64 `json:"rssPerIssuedCertificateBytes"`
	ProjectedRSS1M int64   `json:"projectedRssFor1MIssuedBytes"`
}

// fillChunk bounds the CSRs generated and held by the benchmark at once.
const fillChunk = 10000

// runScale fills a fresh kcsr server with n issued node-client CSRs (each leaves a CSR and
// an IssuedCertificate; kcsr also records two Events per CSR), then measures reads, memory
// and a cold start.
func runScale(ctx context.Context, o *options, work string, tok tokens) (*scaleResult, error) {
	logf("kcsr: starting for the scale run (%d CSRs)", o.Scale)
	s, err := startKcsr(ctx, o.KcsrBinary, work, tok, o.KcsrArgs, o.KcsrEnv)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	if err := warmUp(ctx, s, []workload{nodeClient}, o.Warmup); err != nil {
		return nil, err
	}
	r := &scaleResult{}
	if r.LiveHeapEmpty, err = liveHeap(ctx, s); err != nil {
		return nil, err
	}
	if r.MemEmpty, err = processMemory(s.procs[0].pid()); err != nil {
		return nil, err
	}
	if _, r.EmptyDB, err = diskUsage(s.etcdDir); err != nil {
		return nil, err
	}

	creator, watcher, err := clientsFor(s, nodeClient)
	if err != nil {
		return nil, err
	}
	admin, err := s.adminClient()
	if err != nil {
		return nil, err
	}
	var fillTime time.Duration
	for done := 0; done < o.Scale; {
		n := min(fillChunk, o.Scale-done)
		label := fmt.Sprintf("fill-%s-%d", runID, done/fillChunk)
		csrs, err := generate(nodeClient, label, n)
		if err != nil {
			return nil, err
		}
		obs, err := run(ctx, creator, watcher, label, csrs, load{Workers: o.Workers}, o.Stall, false)
		if err != nil {
			return nil, err
		}
		if issued, _ := obs.counts(); issued != n {
			return nil, fmt.Errorf("fill: %d of %d issued (%d create errors: %v)\n%s", issued, n, obs.createErrors, obs.firstError, s.logs())
		}
		d := obs.end.Sub(obs.start)
		fillTime += d
		done += n
		r.ChunkRates = append(r.ChunkRates, perSecond(n, d))
		if !o.ScaleKeepCSRs {
			// What the cleaner does an hour after issuance: a fleet CA holds its
			// certificates' records, not their CSRs.
			if err := admin.CertificatesV1().CertificateSigningRequests().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: benchLabel + "=" + label}); err != nil {
				return nil, fmt.Errorf("delete the issued CSRs of %s: %w", label, err)
			}
		}
		m, _ := processMemory(s.procs[0].pid())
		logf("kcsr: filled %d/%d (%.0f/s for this chunk), RSS %s", done, o.Scale, perSecond(n, d), size(m.RSS))
	}
	r.FillSeconds = fillTime.Seconds()
	r.FillPerSec = perSecond(o.Scale, fillTime)
	time.Sleep(5 * time.Second) // the last events are written asynchronously
	if r.MemFilled, err = processMemory(s.procs[0].pid()); err != nil {
		return nil, err
	}
	if r.LiveHeapFilled, err = liveHeap(ctx, s); err != nil {
		return nil, err
	}
	if r.StorageDisk, r.StorageDB, err = diskUsage(s.etcdDir); err != nil {
		return nil, err
	}

	// Reads, as the administrator: protobuf for CSRs, JSON for kcsr's own types.
	jsonCfg, err := s.adminConfig(true)
	if err != nil {
		return nil, err
	}
	kc, err := kcsrclient.NewForConfig(jsonCfg)
	if err != nil {
		return nil, err
	}
	listCSRs := func(ctx context.Context, opts metav1.ListOptions) (int, string, error) {
		l, err := admin.CertificatesV1().CertificateSigningRequests().List(ctx, opts)
		if err != nil {
			return 0, "", err
		}
		return len(l.Items), l.Continue, nil
	}
	listIssued := func(ctx context.Context, opts metav1.ListOptions) (int, string, error) {
		l, err := kc.KcsrV1alpha1().IssuedCertificates().List(ctx, opts)
		if err != nil {
			return 0, "", err
		}
		return len(l.Items), l.Continue, nil
	}
	listEvents := func(ctx context.Context, opts metav1.ListOptions) (int, string, error) {
		l, err := admin.CoreV1().Events("").List(ctx, opts)
		if err != nil {
			return 0, "", err
		}
		return len(l.Items), l.Continue, nil
	}
	if r.CSRs, err = listAll(ctx, listCSRs, 500); err != nil {
		return nil, err
	}
	// A record in the middle of the first page, for the lookups.
	page, err := kc.KcsrV1alpha1().IssuedCertificates().List(ctx, metav1.ListOptions{Limit: 500})
	if err != nil || len(page.Items) == 0 {
		return nil, fmt.Errorf("list IssuedCertificates: %d records, %v", len(page.Items), err)
	}
	probe := page.Items[len(page.Items)/2].Spec
	r.IssuedPage = 500
	if o.Scale > unpagedMax {
		r.IssuedPage = 10_000
	}
	if r.Issued, err = listAll(ctx, listIssued, r.IssuedPage); err != nil {
		return nil, err
	}
	if r.Events, err = listAll(ctx, listEvents, 500); err != nil {
		return nil, err
	}
	logf("kcsr: stored %d CSRs, %d IssuedCertificates, %d Events; timing lists", r.CSRs, r.Issued, r.Events)
	timeIt := func(f func() error) (float64, error) {
		var ds []time.Duration
		for range 3 {
			start := time.Now()
			if err := f(); err != nil {
				return 0, err
			}
			ds = append(ds, time.Since(start))
		}
		return float64(median(ds)) / float64(time.Millisecond), nil
	}
	lists := []struct {
		out  *float64
		list func(context.Context, metav1.ListOptions) (int, string, error)
		page int64
	}{{&r.ListCSRs, listCSRs, 0}, {&r.ListCSRsPaged, listCSRs, 500}, {&r.ListIssuedPaged, listIssued, r.IssuedPage}}
	if r.Issued <= unpagedMax {
		lists = append(lists, struct {
			out  *float64
			list func(context.Context, metav1.ListOptions) (int, string, error)
			page int64
		}{&r.ListIssued, listIssued, 0})
	}
	for _, m := range lists {
		if *m.out, err = timeIt(func() error { _, err := listAll(ctx, m.list, m.page); return err }); err != nil {
			return nil, err
		}
	}
	if r.IssuedFirstPage, err = timeIt(func() error { _, _, err := listIssued(ctx, metav1.ListOptions{Limit: 500}); return err }); err != nil {
		return nil, err
	}
	lookup := func(selector string) func() error {
		return func() error {
			n, err := listAll(ctx, func(ctx context.Context, opts metav1.ListOptions) (int, string, error) {
				opts.FieldSelector = selector
				return listIssued(ctx, opts)
			}, 500)
			if err == nil && n != 1 {
				err = fmt.Errorf("%s: %d records; want 1", selector, n)
			}
			return err
		}
	}
	if r.LookupSerial, err = timeIt(lookup("spec.serialNumber=" + probe.SerialNumber)); err != nil {
		return nil, err
	}
	if r.LookupCSRName, err = timeIt(lookup("spec.csrName=" + probe.CSRName)); err != nil {
		return nil, err
	}
	logf("kcsr: timing a revocation")
	latency, err := revocationLatency(ctx, s, admin, kc)
	if err != nil {
		return nil, err
	}
	r.Revocation = float64(latency) / float64(time.Millisecond)
	if r.Issued > unpagedMax {
		logf("kcsr: %d IssuedCertificates: no unpaged list, no watch start (each would hold them all at once)", r.Issued)
		r.ListIssued, r.WatchCSRsFirst, r.WatchCSRsAll, r.WatchIssuedFirst, r.WatchIssuedAll = -1, -1, -1, -1, -1
		return r, r.coldStarts(ctx, o, s)
	}
	logf("kcsr: timing watch start")
	csrWatch := func(ctx context.Context) (watch.Interface, error) {
		return admin.CertificatesV1().CertificateSigningRequests().Watch(ctx, metav1.ListOptions{})
	}
	issuedWatch := func(ctx context.Context) (watch.Interface, error) {
		return kc.KcsrV1alpha1().IssuedCertificates().Watch(ctx, metav1.ListOptions{})
	}
	if r.WatchCSRsFirst, r.WatchCSRsAll, err = watchStart(ctx, csrWatch, r.CSRs); err != nil {
		return nil, err
	}
	if r.WatchIssuedFirst, r.WatchIssuedAll, err = watchStart(ctx, issuedWatch, r.Issued); err != nil {
		return nil, err
	}
	return r, r.coldStarts(ctx, o, s)
}

// unpagedMax is the most IssuedCertificates the scale run lists unpaged or watches from
// the start: beyond it, each would hold the whole inventory at once (in the server, without
// a watch cache for it, and in the benchmark).
const unpagedMax = 100_000

// settle does at once what kcsr server does on its own within six minutes of a burst of
// writes: etcd's history compacted (the API server compacts every 5 minutes) and its
// database defragmented (kcsr server does so once a third of the file is free pages), so
// that the cold start after it measures the store, not the fill's history.
func (r *scaleResult) settle(ctx context.Context, s *system) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{"unix://" + filepath.Join(s.etcdDir, "etcd.sock")}, DialTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	resp, err := c.Get(ctx, "compact-to-here", clientv3.WithCountOnly())
	if err != nil {
		return err
	}
	if _, err := c.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		return err
	}
	if _, err := c.Defragment(ctx, c.Endpoints()[0]); err != nil {
		return err
	}
	_, r.SettledDB, err = diskUsage(s.etcdDir)
	return err
}

// coldStarts measures the memory after the reads, then restarts the server: the first
// cold start is measured after the reads, as an operator would restart; the next ones
// (--restarts) right after the previous start, for the spread.
func (r *scaleResult) coldStarts(ctx context.Context, o *options, s *system) error {
	var err error
	if r.MemReads, err = processMemory(s.procs[0].pid()); err != nil {
		return err
	}
	logf("kcsr: compacting and defragmenting etcd, as the server would within minutes")
	if err := r.settle(ctx, s); err != nil {
		return fmt.Errorf("compact and defragment etcd: %w", err)
	}
	for i := range max(o.Restarts, 1) {
		logf("kcsr: cold start %d/%d", i+1, max(o.Restarts, 1))
		stop, start, err := s.restartKcsr(ctx)
		if err != nil {
			return err
		}
		r.StopSeconds = append(r.StopSeconds, stop.Seconds())
		r.ColdStartSeconds = append(r.ColdStartSeconds, start.Seconds())
		loaded, err := s.procs[0].waitForOutput(ctx, "Loaded the inventory", 10*time.Minute)
		if err != nil {
			return err
		}
		r.InventoryLoadSeconds = append(r.InventoryLoadSeconds, loaded.Seconds())
		if i == 0 {
			if r.MemStart, err = processMemory(s.procs[0].pid()); err != nil {
				return err
			}
			if r.LiveHeapStart, err = liveHeap(ctx, s); err != nil {
				return err
			}
		}
	}
	r.project()
	return nil
}

// listAll lists every object, in pages of page (0: one unpaged list), and counts them.
func listAll(ctx context.Context, list func(context.Context, metav1.ListOptions) (int, string, error), page int64) (int, error) {
	total, cont := 0, ""
	for {
		n, next, err := list(ctx, metav1.ListOptions{Limit: page, Continue: cont})
		if err != nil {
			return total, err
		}
		total += n
		if next == "" {
			return total, nil
		}
		cont = next
	}
}

// watchStart opens a watch with no resource version (the server sends every stored object
// as an ADDED event first) and times the first event and the last of the want initial
// ones, in milliseconds.
func watchStart(ctx context.Context, open func(context.Context) (watch.Interface, error), want int) (first, all float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	w, err := open(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer w.Stop()
	seen := 0
	for ev := range w.ResultChan() {
		if ev.Type != watch.Added {
			continue
		}
		seen++
		if seen == 1 {
			first = float64(time.Since(start)) / float64(time.Millisecond)
		}
		if seen >= want {
			return first, float64(time.Since(start)) / float64(time.Millisecond), nil
		}
	}
	return first, 0, fmt.Errorf("watch ended after %d of %d initial events", seen, want)
}

// project extrapolates the memory to 1M stored objects.
func (r *scaleResult) project() {
	objects := r.CSRs + r.Issued + r.Events
	if objects == 0 {
		return
	}
	r.LiveHeapPerObject = float64(r.LiveHeapStart-r.LiveHeapEmpty) / float64(objects)
	r.LoadedPerObject = float64(r.LiveHeapFilled-r.LiveHeapEmpty) / float64(objects)
	r.DBPerObject = float64(r.StorageDB-r.EmptyDB) / float64(objects)
	if r.SettledDB > 0 {
		r.DBPerObject = float64(r.SettledDB-r.EmptyDB) / float64(objects)
	}
	if r.Issued > 0 {
		r.RSSPerIssued = float64(r.MemStart.RSS-r.MemEmpty.RSS) / float64(r.Issued)
	}
	r.ProjectedRSS1M = r.MemEmpty.RSS + int64(r.RSSPerIssued*1e6)
}

func (r *scaleResult) print(w io.Writer) {
	objects := r.CSRs + r.Issued + r.Events
	mem := func(m memory) string {
		return fmt.Sprintf("RSS %s (anon %s, file %s), peak %s", size(m.RSS), size(m.Anon), size(m.File), size(m.Peak))
	}
	fmt.Fprintf(w, "kcsr server with %d CSRs, %d IssuedCertificates and %d Events stored (%d objects)\n", r.CSRs, r.Issued, r.Events, objects)
	fmt.Fprintf(w, "  fill: %.0f issued/s over %.0f s; by chunk of %d: %s\n", r.FillPerSec, r.FillSeconds, fillChunk, rates(r.ChunkRates))
	fmt.Fprintf(w, "  storage: etcd db %s right after the fill, %s compacted and defragmented; etcd directory %s\n", size(r.StorageDB), size(r.SettledDB), size(r.StorageDisk))
	fmt.Fprintf(w, "  memory empty:        %s; live heap %s\n", mem(r.MemEmpty), size(r.LiveHeapEmpty))
	fmt.Fprintf(w, "  memory filled:       %s; live heap %s\n", mem(r.MemFilled), size(r.LiveHeapFilled))
	fmt.Fprintf(w, "  after the reads:     %s\n", mem(r.MemReads))
	fmt.Fprintf(w, "  after a cold start:  %s; live heap %s\n", mem(r.MemStart), size(r.LiveHeapStart))
	fmt.Fprintf(w, "  list CSRs: unpaged %.0f ms, paged by 500 %.0f ms; list IssuedCertificates: unpaged %s, paged by %d %.0f ms, first page of 500 %.0f ms (median of 3)\n",
		r.ListCSRs, r.ListCSRsPaged, millis(r.ListIssued), r.IssuedPage, r.ListIssuedPaged, r.IssuedFirstPage)
	fmt.Fprintf(w, "  field-selector lookup of one IssuedCertificate: by serial %.0f ms, by CSR name %.0f ms\n", r.LookupSerial, r.LookupCSRName)
	fmt.Fprintf(w, "  watch start (every object as an initial event): CSRs first %s, all %s; IssuedCertificates first %s, all %s\n",
		millis(r.WatchCSRsFirst), millis(r.WatchCSRsAll), millis(r.WatchIssuedFirst), millis(r.WatchIssuedAll))
	fmt.Fprintf(w, "  revocation → login refused: %.0f ms\n", r.Revocation)
	fmt.Fprintf(w, "  stop (SIGTERM → exit) %s s; cold start (exec → ready) %s s; exec → inventory loaded %s s\n", seconds(r.StopSeconds), seconds(r.ColdStartSeconds), seconds(r.InventoryLoadSeconds))
	fmt.Fprintf(w, "  per stored object: live heap %.0f B after a restart (%.0f B right after the fill), etcd db %.0f B (compacted, defragmented)\n",
		r.LiveHeapPerObject, r.LoadedPerObject, r.DBPerObject)
	fmt.Fprintf(w, "  RSS per IssuedCertificate after a cold start: %.0f B → 1M ≈ %s\n", r.RSSPerIssued, size(r.ProjectedRSS1M))
	fmt.Fprintln(w, "\ntargets (issue #18):")
	fmt.Fprintf(w, "  %s 1M IssuedCertificates within 2 GiB RSS (projected from %d): %s\n", verdict(r.ProjectedRSS1M <= 2<<30), r.Issued, size(r.ProjectedRSS1M))
	peak := max(r.MemReads.Peak, r.MemStart.Peak)
	fmt.Fprintf(w, "  %s peak RSS ≤ 2.5 GiB with %d IssuedCertificates: %s\n", verdict(peak <= 5<<29), r.Issued, size(peak))
	worst := slices.Max(append([]float64{0}, r.ColdStartSeconds...))
	fmt.Fprintf(w, "  %s cold start ≤ 60 s (with %d objects), the slowest of %d: %.1f s\n", verdict(worst <= 60), objects, len(r.ColdStartSeconds), worst)
	fmt.Fprintf(w, "  %s first page of 500 IssuedCertificates ≤ 100 ms: %.0f ms\n", verdict(r.IssuedFirstPage <= 100), r.IssuedFirstPage)
	fmt.Fprintf(w, "  %s field-selector lookup ≤ 50 ms: by serial %.0f ms, by CSR name %.0f ms\n", verdict(max(r.LookupSerial, r.LookupCSRName) <= 50), r.LookupSerial, r.LookupCSRName)
	fmt.Fprintf(w, "  %s login refused ≤ 1 s after a revocation: %.0f ms\n", verdict(r.Revocation <= 1000), r.Revocation)
	if n := len(r.ChunkRates); n >= 2 {
		first, last := r.ChunkRates[0], r.ChunkRates[n-1]
		fmt.Fprintf(w, "  %s issuance rate at the end within 20%% of the start: %.0f/s → %.0f/s (%+.0f%%)\n", verdict(last >= 0.8*first), first, last, 100*(last/first-1))
	}
}

// millis prints a duration in milliseconds, "-" for one not measured (negative).
func millis(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", v)
}

// rates prints issuance rates, at most the first and last few.
func rates(v []float64) string {
	parts := make([]string, 0, len(v))
	for i, x := range v {
		if len(v) > 8 && i == 4 {
			parts = append(parts, "…")
		}
		if len(v) > 8 && i >= 4 && i < len(v)-4 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(parts, " ")
}

func seconds(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, ", ")
}
