package events

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/component-base/metrics/legacyregistry"

	"kcsr.dev/kcsr/pkg/metrics"
	"kcsr.dev/kcsr/pkg/testkit"
)

func dropped(t *testing.T, reason string) float64 {
	t.Helper()
	return testkit.Series(t, legacyregistry.DefaultGatherer, "kcsr_events_dropped_total")[`reason="`+reason+`"`]
}

// TestRecorder: an event about a CSR is written in the default namespace (a CSR has none)
// with its reference, source and counts; recording never blocks, and what is not written
// (the queue full, the write refused) is counted, never lost silently.
func TestRecorder(t *testing.T) {
	metrics.Register()
	client := fake.NewClientset()
	r := NewRecorder(client.CoreV1(), "kcsr")
	obj := testkit.CSR("alice")
	obj.TypeMeta = metav1.TypeMeta{} // the reference comes from the scheme, as for stored objects
	r.Event(obj, corev1.EventTypeWarning, "Denied", "GuardRail: no")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	var list *corev1.EventList
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if list, err = client.CoreV1().Events(metav1.NamespaceDefault).List(ctx, metav1.ListOptions{}); err == nil && len(list.Items) == 1 {
			break
		}
	}
	cancel()
	<-done
	if len(list.Items) != 1 {
		t.Fatalf("events written = %d, want 1", len(list.Items))
	}
	e := list.Items[0]
	if e.InvolvedObject.Kind != "CertificateSigningRequest" || e.InvolvedObject.Name != "alice" || e.InvolvedObject.UID != obj.UID ||
		e.Type != corev1.EventTypeWarning || e.Reason != "Denied" || e.Message != "GuardRail: no" || e.Source.Component != "kcsr" || e.Count != 1 {
		t.Errorf("event = %+v", e)
	}

	// Nobody writes: the queue fills, and each event past it is counted.
	before := dropped(t, DroppedQueueFull)
	for range QueueSize + 3 {
		r.Event(obj, corev1.EventTypeNormal, "AwaitingApproval", "no policy")
	}
	if got := dropped(t, DroppedQueueFull) - before; got != 3 {
		t.Errorf("dropped for a full queue = %v, want 3", got)
	}

	// A write the server refuses twice is counted too.
	refusing := fake.NewClientset()
	refusing.PrependReactor("create", "events", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is down")
	})
	r = NewRecorder(refusing.CoreV1(), "kcsr")
	before = dropped(t, DroppedWriteFailed)
	r.write(context.Background(), &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "default"}, InvolvedObject: corev1.ObjectReference{Kind: "CertificateSigningRequest", Name: "alice"}})
	if got := dropped(t, DroppedWriteFailed) - before; got != 1 {
		t.Errorf("dropped for failed writes = %v, want 1", got)
	}
}

// TestRecorderShutdown: events still queued when the writer stops are counted, not lost
// silently.
func TestRecorderShutdown(t *testing.T) {
	metrics.Register()
	client := fake.NewClientset()
	r := NewRecorder(client.CoreV1(), "kcsr")
	obj := testkit.CSR("alice")
	obj.TypeMeta = metav1.TypeMeta{}
	r.Event(obj, corev1.EventTypeNormal, "AwaitingApproval", "one")
	r.Event(obj, corev1.EventTypeNormal, "AwaitingApproval", "two")
	before := dropped(t, DroppedShutdown)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Run(ctx) // may write some before it sees ctx done: every event is written or counted
	list, err := client.CoreV1().Events(metav1.NamespaceDefault).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dropped(t, DroppedShutdown) - before + float64(len(list.Items)); got != 2 {
		t.Errorf("written + dropped at shutdown = %v, want 2", got)
	}
	if len(r.queue) != 0 {
		t.Errorf("%d events left in the queue", len(r.queue))
	}
}
