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

// NewCSRController returns the skeleton of the controller name (for logs and metrics),
// calling sync for the CSRs of csrs. A recorder is required: production never runs a
// controller whose decisions leave no event. A nil clock is the real one.
func NewCSRController(name string, client kubernetes.Interface, kcsr kcsrclient.Interface, csrs certificatesinformers.CertificateSigningRequestInformer, recorder record.EventRecorder, clk clock.PassiveClock, sync SyncFunc) (CSRController, error) {
	if recorder == nil {
		return CSRController{}, fmt.Errorf("%s: an event recorder is required: every decision is recorded as an event on its CSR", name)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	c := CSRController{Client: client, Kcsr: kcsr, Lister: csrs.Lister(), Recorder: recorder, Clock: clk, queue: New(name, sync)}
	return c, c.queue.Watch(csrs.Informer())
}

// Enqueue asks for the CSR obj to be synced again.
func (c *CSRController) Enqueue(obj any) { c.queue.Enqueue(obj) }

// Run runs workers syncs at a time until ctx is done; it blocks.
func (c *CSRController) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }
