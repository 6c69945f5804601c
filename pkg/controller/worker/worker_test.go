package worker

import (
	"context"
	"sync"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func csr(name string) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// TestQueueOnSharedInformer: a queue watching an informer that already runs gets its
// objects, and once Run returns (the end of a term of leadership) its handler is gone, so
// a later controller on the same informer is the only one fed.
func TestQueueOnSharedInformer(t *testing.T) {
	client := fake.NewClientset(csr("a"), csr("b"))
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := &countingInformer{SharedIndexInformer: factory.Certificates().V1().CertificateSigningRequests().Informer()}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	factory.WaitForCacheSync(stop)

	var mu sync.Mutex
	seen := map[string]int{}
	q := New("test", func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		seen[key]++
		return nil
	})
	if err := q.Watch(informer); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, 2); close(done) }()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return seen["a"] == 1 && seen["b"] == 1 })

	cancel()
	<-done
	if _, err := client.CertificatesV1().CertificateSigningRequests().Create(context.Background(), csr("c"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { _, ok, _ := informer.GetStore().GetByKey("c"); return ok })
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if seen["c"] != 0 {
		t.Errorf("a stopped queue was still fed: %v", seen)
	}
	if informer.handlers != 0 {
		t.Errorf("%d event handlers left on the informer after Run returned", informer.handlers)
	}
}

// countingInformer counts the event handlers registered on it.
type countingInformer struct {
	cache.SharedIndexInformer
	handlers int
}

func (i *countingInformer) AddEventHandler(h cache.ResourceEventHandler) (cache.ResourceEventHandlerRegistration, error) {
	i.handlers++
	return i.SharedIndexInformer.AddEventHandler(h)
}

func (i *countingInformer) RemoveEventHandler(r cache.ResourceEventHandlerRegistration) error {
	i.handlers--
	return i.SharedIndexInformer.RemoveEventHandler(r)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
