// Package events records the Kubernetes Events of kcsr's server and controllers: what a
// person needs to see on an object (a CSR denied, refused by its signer, left to a person,
// waiting for an unavailable signer; a certificate revoked). Decisions and outcomes a
// person does not act on are conditions, not events.
//
// Unlike client-go's broadcaster, which drops an event silently when its one writer falls
// behind (its queue of 1000, measured losing 90 % of events under load), this Recorder
// counts every event it does not write in kcsr_events_dropped_total, by why: its queue was
// full, or the write failed. Recording never blocks the caller. Events are written one at
// a time by Run, in the order recorded; similar events are not aggregated.
package events

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"kcsr.dev/kcsr/pkg/metrics"
)

// QueueSize is how many events may wait to be written before new ones are dropped.
const QueueSize = 1000

// Why an event was dropped (the reason label of kcsr_events_dropped_total).
const (
	DroppedQueueFull   = "queue_full"
	DroppedWriteFailed = "write_failed"
	DroppedNoReference = "no_reference"
	DroppedShutdown    = "shutdown"
)

// Recorder is a record.EventRecorder whose events Run writes.
type Recorder struct {
	client typedcorev1.EventsGetter
	source corev1.EventSource
	clock  clock.PassiveClock
	queue  chan *corev1.Event
}

var _ record.EventRecorder = (*Recorder)(nil)

// NewRecorder returns a recorder of events from component, written with client once Run
// runs.
func NewRecorder(client typedcorev1.EventsGetter, component string) *Recorder {
	return &Recorder{
		client: client,
		source: corev1.EventSource{Component: component},
		clock:  clock.RealClock{},
		queue:  make(chan *corev1.Event, QueueSize),
	}
}

// Run writes the recorded events until ctx is done; what is still queued then is counted
// as dropped.
func (r *Recorder) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case <-r.queue:
					metrics.EventsDropped.WithLabelValues(DroppedShutdown).Inc()
				default:
					return
				}
			}
		case e := <-r.queue:
			r.write(ctx, e)
		}
	}
}

// write creates e, trying once more after a moment when the server did not take it.
func (r *Recorder) write(ctx context.Context, e *corev1.Event) {
	var err error
	for attempt := range 2 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		_, err = r.client.Events(e.Namespace).Create(ctx, e, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) {
			break
		}
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		metrics.EventsDropped.WithLabelValues(DroppedWriteFailed).Inc()
		klog.FromContext(ctx).Error(err, "Cannot write an event", "reason", e.Reason, "object", klog.KRef(e.InvolvedObject.Namespace, e.InvolvedObject.Name))
	}
}

// Event records an event about obj.
func (r *Recorder) Event(obj runtime.Object, eventType, reason, message string) {
	ref, err := reference.GetReference(clientgoscheme.Scheme, obj)
	if err != nil {
		metrics.EventsDropped.WithLabelValues(DroppedNoReference).Inc()
		klog.ErrorS(err, "Cannot record an event about an object without a reference", "reason", reason)
		return
	}
	now := metav1.NewTime(r.clock.Now())
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault // as client-go does for cluster-scoped objects
	}
	e := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%v.%x", ref.Name, now.UnixNano()), Namespace: namespace},
		InvolvedObject:      *ref,
		Reason:              reason,
		Message:             message,
		Type:                eventType,
		Source:              r.source,
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: r.source.Component,
	}
	select {
	case r.queue <- e:
	default:
		metrics.EventsDropped.WithLabelValues(DroppedQueueFull).Inc()
	}
}

// Eventf records an event with a formatted message.
func (r *Recorder) Eventf(obj runtime.Object, eventType, reason, messageFmt string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(messageFmt, args...))
}

// AnnotatedEventf is Eventf; kcsr's events carry no annotations.
func (r *Recorder) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventType, reason, messageFmt string, args ...any) {
	r.Eventf(obj, eventType, reason, messageFmt, args...)
}
