package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/cli/admin"
	"kcsr.dev/kcsr/pkg/csr"
)

// change is one message of the event stream: a CSR added or changed (CSR set), or
// deleted (Deleted set).
type change struct {
	CSR     *admin.Summary `json:"csr,omitempty"`
	Deleted string         `json:"deleted,omitempty"`
}

// queue is the informer over the CSRs the user may list and watch, and the pages that
// follow it.
type queue struct {
	clock    clock.PassiveClock
	informer cache.SharedIndexInformer
	// stop ends every stream when the console stops (an open stream would otherwise
	// hold the server's shutdown).
	stop <-chan struct{}

	mu          sync.Mutex
	subscribers map[chan change]bool
	// denied is when each CSR seen denied was denied: the cleaner deletes denied CSRs
	// an hour after, and the activity chart counts 24 hours.
	denied map[types.UID]time.Time
}

// maxBuffered is how many changes a page may fall behind before its stream is closed
// (the browser reconnects and starts again from a snapshot).
const maxBuffered = 256

func newQueue(client kubernetes.Interface, c clock.PassiveClock, stop <-chan struct{}) *queue {
	factory := informers.NewSharedInformerFactory(client, 0)
	q := &queue{
		clock:       c,
		stop:        stop,
		informer:    factory.Certificates().V1().CertificateSigningRequests().Informer(),
		subscribers: map[chan change]bool{},
		denied:      map[types.UID]time.Time{},
	}
	_, _ = q.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { q.changed(obj) },
		UpdateFunc: func(_, obj any) { q.changed(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if c, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
				q.publish(change{Deleted: c.Name})
			}
		},
	})
	return q
}

func (q *queue) run(ctx context.Context) { q.informer.Run(ctx.Done()) }

func (q *queue) changed(obj any) {
	c, ok := obj.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return
	}
	if cond := csr.Condition(c, certificatesv1.CertificateDenied); cond != nil {
		q.mu.Lock()
		q.pruneDenied(q.clock.Now().Add(-24 * time.Hour))
		if _, seen := q.denied[c.UID]; !seen {
			at := cond.LastUpdateTime.Time
			if at.IsZero() {
				at = q.clock.Now()
			}
			q.denied[c.UID] = at
		}
		q.mu.Unlock()
	}
	s := admin.Summarize(c)
	q.publish(change{CSR: &s})
}

func (q *queue) publish(c change) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for ch := range q.subscribers {
		select {
		case ch <- c:
		default:
			// Too far behind: close its stream; the page reconnects from a snapshot.
			delete(q.subscribers, ch)
			close(ch)
		}
	}
}

// snapshot is every CSR the informer holds, newest first.
func (q *queue) snapshot() []admin.Summary {
	objs := q.informer.GetStore().List()
	out := make([]admin.Summary, 0, len(objs))
	for _, o := range objs {
		if c, ok := o.(*certificatesv1.CertificateSigningRequest); ok {
			out = append(out, admin.Summarize(c))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Created != out[j].Created {
			return out[i].Created > out[j].Created
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// deniedSince returns when each CSR denied since since was denied: those the informer
// holds and those it saw before the cleaner deleted them.
func (q *queue) deniedSince(since time.Time) []time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneDenied(since)
	out := make([]time.Time, 0, len(q.denied))
	for _, at := range q.denied {
		out = append(out, at)
	}
	return out
}

// pruneDenied forgets the denials before since; q.mu is held.
func (q *queue) pruneDenied(since time.Time) {
	for uid, at := range q.denied {
		if at.Before(since) {
			delete(q.denied, uid)
		}
	}
}

// stream is GET /api/events: Server-Sent Events, first a snapshot of the queue, then
// every change, and a comment every 15 s to keep the connection open.
func (q *queue) stream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming is not supported")
		return
	}
	if !q.informer.HasSynced() {
		writeError(w, http.StatusServiceUnavailable, "the CSR list is still loading; retry in a moment")
		return
	}
	ch := make(chan change, maxBuffered)
	q.mu.Lock()
	q.subscribers[ch] = true
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		if q.subscribers[ch] {
			delete(q.subscribers, ch)
			close(ch)
		}
		q.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		// A page that stops reading ends its stream instead of holding a goroutine.
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !send("snapshot", q.snapshot()) {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-q.stop:
			return
		case c, open := <-ch:
			if !open || !send("change", c) {
				return
			}
		case <-keepalive.C:
			_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			flusher.Flush()
		}
	}
}
