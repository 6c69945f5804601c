// Package worker is the skeleton every kcsr controller runs on, as Kubernetes' certificate
// controllers do: an informer feeds object keys into a rate-limited workqueue, workers
// call one sync function per key, and a failed sync is retried with per-item exponential
// backoff (200ms to 1000s) under an overall 10 qps / burst 100 bucket.
package worker

import (
	"context"
	"time"

	"golang.org/x/time/rate"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// SyncFunc handles one object key; an error retries it with backoff.
type SyncFunc func(ctx context.Context, key string) error

// Queue is a workqueue of object keys with its sync function.
type Queue struct {
	name   string
	queue  workqueue.TypedRateLimitingInterface[string]
	sync   SyncFunc
	synced []cache.InformerSynced
	// watched are the event handlers Watch added; Run removes them when it returns, so a
	// controller built on a long-lived shared informer (one term of leadership) leaves
	// nothing behind.
	watched []registration
}

type registration struct {
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration
}

// New returns a queue named name (for logs and metrics) that calls sync.
func New(name string, sync SyncFunc) *Queue {
	return &Queue{
		name: name,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 1000*time.Second),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "kcsr_" + name},
		),
		sync: sync,
	}
}

// Watch enqueues the objects of an informer on add and update (and, when the informer has
// already synced, every object it holds now), and waits for its cache before workers
// start.
func (q *Queue) Watch(informer cache.SharedIndexInformer) error {
	handle, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    q.Enqueue,
		UpdateFunc: func(_, obj any) { q.Enqueue(obj) },
	})
	if err != nil {
		return err
	}
	q.synced = append(q.synced, informer.HasSynced, handle.HasSynced)
	q.watched = append(q.watched, registration{informer, handle})
	return nil
}

// Enqueue adds an object's key.
func (q *Queue) Enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	q.queue.Add(key)
}

// Run starts workers once the informers have synced and blocks until ctx is done.
func (q *Queue) Run(ctx context.Context, workers int) {
	defer utilruntime.HandleCrash()
	defer q.queue.ShutDown()
	defer func() {
		for _, w := range q.watched {
			_ = w.informer.RemoveEventHandler(w.handle)
		}
	}()
	logger := klog.FromContext(ctx).WithName(q.name)
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Starting controller", "workers", workers)
	defer logger.Info("Shutting down controller")
	if !cache.WaitForNamedCacheSync(q.name, ctx.Done(), q.synced...) {
		return
	}
	for range workers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for q.processNext(ctx) {
			}
		}, time.Second)
	}
	<-ctx.Done()
}

func (q *Queue) processNext(ctx context.Context) bool {
	key, quit := q.queue.Get()
	if quit {
		return false
	}
	defer q.queue.Done(key)
	if err := q.sync(ctx, key); err != nil {
		klog.FromContext(ctx).V(2).Info("Sync failed; retrying with backoff", "key", key, "err", err)
		q.queue.AddRateLimited(key)
		return true
	}
	q.queue.Forget(key)
	return true
}
