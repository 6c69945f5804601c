package worker

import (
	"context"
	"fmt"

	certificatesinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	kcsrclient "kcsr.dev/kcsr/pkg/generated/clientset/versioned"
)

// CSRController is the skeleton of a controller of CertificateSigningRequests, as
// Kubernetes' certificates.CertificateController is its approver's and signer's: the
// clients, the lister of the shared CSR informer, and the queue that calls the
// controller's sync for each CSR added or changed. A controller embeds it.
type CSRController struct {
	Client kubernetes.Interface
	Kcsr   kcsrclient.Interface
	Lister certificateslisters.CertificateSigningRequestLister
	// Recorder records the controller's decisions as events on their CSRs.
	Recorder record.EventRecorder
	Clock    clock.PassiveClock
	queue    *Queue
}

// CSRDeps are what every CSR controller is built on, the same for each of them.
type CSRDeps struct {
	Client kubernetes.Interface
	Kcsr   kcsrclient.Interface
	// CSRs is the shared CSR informer.
	CSRs certificatesinformers.CertificateSigningRequestInformer
	// Recorder records the controller's decisions as events on their CSRs. Required:
	// production never runs a controller whose decisions leave no event.
	Recorder record.EventRecorder
	// Clock is the real one when nil.
	Clock clock.PassiveClock
}

// NewCSRController returns the skeleton of the controller name (for logs and metrics),
// calling sync for the CSRs of deps.CSRs.
func NewCSRController(name string, deps CSRDeps, sync SyncFunc) (CSRController, error) {
	if deps.Recorder == nil {
		return CSRController{}, fmt.Errorf("%s: an event recorder is required: every decision is recorded as an event on its CSR", name)
	}
	if deps.Clock == nil {
		deps.Clock = clock.RealClock{}
	}
	c := CSRController{Client: deps.Client, Kcsr: deps.Kcsr, Lister: deps.CSRs.Lister(), Recorder: deps.Recorder, Clock: deps.Clock, queue: New(name, sync)}
	return c, c.queue.Watch(deps.CSRs.Informer())
}

// Enqueue asks for the CSR obj to be synced again.
func (c *CSRController) Enqueue(obj any) { c.queue.Enqueue(obj) }

// Run runs workers syncs at a time until ctx is done; it blocks.
func (c *CSRController) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }
