package worker

import (
	"context"

	certificatesinformers "k8s.io/client-go/informers/certificates/v1"
	"k8s.io/client-go/kubernetes"
	certificateslisters "k8s.io/client-go/listers/certificates/v1"

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
	queue  *Queue
}

// NewCSRController returns the skeleton of the controller name (for logs and metrics),
// calling sync for the CSRs of csrs.
func NewCSRController(name string, client kubernetes.Interface, kcsr kcsrclient.Interface, csrs certificatesinformers.CertificateSigningRequestInformer, sync SyncFunc) (CSRController, error) {
	c := CSRController{Client: client, Kcsr: kcsr, Lister: csrs.Lister(), queue: New(name, sync)}
	return c, c.queue.Watch(csrs.Informer())
}

// Enqueue asks for the CSR obj to be synced again.
func (c *CSRController) Enqueue(obj any) { c.queue.Enqueue(obj) }

// Run runs workers syncs at a time until ctx is done; it blocks.
func (c *CSRController) Run(ctx context.Context, workers int) { c.queue.Run(ctx, workers) }
