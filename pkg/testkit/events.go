package testkit

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/reference"
)

// Event is one event a controller recorded, as the API server would store it: the
// object it is about (kind and name, from the object's reference as the real recorder
// takes it), its type, reason and message.
type Event struct {
	Kind, Name            string
	Type, Reason, Message string
}

// String is the event as kubectl describe shows it.
func (e Event) String() string {
	return fmt.Sprintf("%s %s/%s %s: %s", e.Type, e.Kind, e.Name, e.Reason, e.Message)
}

// Recorder is a record.EventRecorder that keeps the events in order, for tests to
// compare. Unlike record.FakeRecorder it never blocks or drops an event, and it keeps
// the object each event is about.
type Recorder struct {
	mu     sync.Mutex
	events []Event
	err    error
}

var _ record.EventRecorder = (*Recorder)(nil)

// Event records an event about obj.
func (r *Recorder) Event(obj runtime.Object, eventType, reason, message string) {
	e := Event{Type: eventType, Reason: reason, Message: message}
	ref, err := reference.GetReference(scheme.Scheme, obj)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		// The real recorder drops an event it cannot reference; a test should hear of it.
		r.err = fmt.Errorf("event %s %s about %T: %w", eventType, reason, obj, err)
		return
	}
	e.Kind, e.Name = ref.Kind, ref.Name
	r.events = append(r.events, e)
}

// Eventf records an event about obj with a formatted message.
func (r *Recorder) Eventf(obj runtime.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

// AnnotatedEventf records an event about obj; the annotations are not kept.
func (r *Recorder) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventType, reason, format string, args ...any) {
	r.Eventf(obj, eventType, reason, format, args...)
}

// Events returns the events recorded so far, oldest first.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// ExpectEvents fails the test unless the events recorded so far are want, in order; an
// event about an object the recorder could not reference fails it too.
func (r *Recorder) ExpectEvents(t testing.TB, want ...Event) {
	t.Helper()
	r.mu.Lock()
	err := r.err
	r.mu.Unlock()
	if err != nil {
		t.Errorf("recorder: %v", err)
	}
	if diff := cmp.Diff(want, r.Events()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
